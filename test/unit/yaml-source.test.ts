import { describe, expect, it } from "vitest";
import { z } from "zod";
import { formatPath, YamlSource } from "../../shared/model/yaml-source.js";
import { refusal as errorOf } from "../support/refusal.js";

const Schema = z.strictObject({
  name: z.string(),
  items: z.array(z.strictObject({ size: z.number(), mode: z.enum(["fast", "slow"]).optional() })),
});


describe("formatPath", () => {
  it("writes keys with dots and indexes with brackets", () => {
    expect(formatPath(["checks", 2, "podman", "state"])).toBe("checks[2].podman.state");
    expect(formatPath([0, "id"])).toBe("[0].id");
  });

  it("names the top level when the path is empty", () => {
    expect(formatPath([])).toBe("(top level)");
  });
});

describe("YamlSource", () => {
  it("returns the validated data when the document fits the schema", () => {
    const text = "name: a\nitems:\n  - size: 1\n    mode: fast\n";
    expect(YamlSource.parse(text, "f.yaml").validate(Schema)).toEqual({ name: "a", items: [{ size: 1, mode: "fast" }] });
  });

  it("points at the value that is wrong, with file, line, column and path", () => {
    const text = "name: a\nitems:\n  - size: 1\n  - size: big\n";
    const err = errorOf(() => YamlSource.parse(text, "f.yaml").validate(Schema));
    expect(err.code).toBe("bad_input");
    expect(err.where).toEqual({ file: "f.yaml", line: 4, col: 11 });
    expect(err.message).toBe('f.yaml:4:11 items[1].size: expected number, got "big"');
  });

  it("points at the unknown key itself, not at its map", () => {
    const text = "name: a\nitems:\n  - size: 1\n    colour: red\n";
    const err = errorOf(() => YamlSource.parse(text, "f.yaml").validate(Schema));
    expect(err.message).toBe('f.yaml:4:5 items[0].colour: unknown key "colour" (valid: size, mode)');
  });

  it("points at the nearest enclosing node when the field is missing", () => {
    const text = "name: a\nitems:\n  - mode: slow\n";
    const err = errorOf(() => YamlSource.parse(text, "f.yaml").validate(Schema));
    expect(err.message).toBe("f.yaml:3:5 items[0].size: required number is missing");
  });

  it("lists every problem, first line first, each with its own position", () => {
    const text = "items:\n  - size: x\n    mode: warp\nname: 7\n";
    const err = errorOf(() => YamlSource.parse(text, "f.yaml").validate(Schema));
    expect(err.message.split("\n")).toEqual([
      'f.yaml:2:11 items[0].size: expected number, got "x"',
      'f.yaml:3:11 items[0].mode: expected one of fast|slow, got "warp"',
      'f.yaml:4:7 name: expected string, got number 7 (YAML reads 7 as a number: quote it, "7")',
    ]);
  });

  it("reports a YAML syntax error at the line where the parser found it", () => {
    const text = "name: a\nitems:\n  - size: 1\n   mode: fast\n";
    const err = errorOf(() => YamlSource.parse(text, "f.yaml"));
    expect(err.where).toEqual({ file: "f.yaml", line: 4, col: 1 });
    expect(err.message).toBe("f.yaml:4:1 yaml: Sequence item without - indicator");
  });

  it("refuses a key written twice, at the second one", () => {
    const err = errorOf(() => YamlSource.parse("name: a\nname: b\n", "f.yaml"));
    expect(err.message).toBe("f.yaml:2:1 yaml: Map keys must be unique");
  });

  it("treats an empty document as an empty map", () => {
    const err = errorOf(() => YamlSource.parse("", "f.yaml").validate(Schema));
    expect(err.message.split("\n")[0]).toBe("f.yaml:1:1 name: required string is missing");
  });

  it("cuts a long value it shows to one short line", () => {
    const text = `name: a\nitems:\n  - size: "${"9".repeat(100)}"\n`;
    const err = errorOf(() => YamlSource.parse(text, "f.yaml").validate(Schema));
    expect(err.message).toBe(`f.yaml:3:11 items[0].size: expected number, got "${"9".repeat(58)}…`);
  });
});
