// Random protobuf messages for fuzzing the coordinator: well-typed (every field its declared
// type, so the bytes decode) but with values no client of ours would send — empty and huge
// strings, path tricks, YAML that is no plan, negative and maximal numbers, unknown enum values.
import { create, ScalarType, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import fc from "fast-check";

const strangeStrings = fc.oneof(
  fc.constantFrom("", " ", "node-a", "r-0000", "../../etc/passwd", "/dev/zero", "plan: p\nstages: []\n", "suite: s\nchecks: []\n", "plan: [", "admin", "operator", "*", "%s%n", "\u0000", "\u202e\ud800", "fgn_x", "fge_x"),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.nat({ max: 5000 }).map((n) => "x".repeat(n)),
);

function scalarValue(type: ScalarType): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.STRING:
      return strangeStrings;
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.constantFrom(0, -1, 1e308, Number.NaN, Number.POSITIVE_INFINITY, -0.5);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.constantFrom(0n, -1n, 1n, 9_223_372_036_854_775_807n, -9_223_372_036_854_775_808n, 86_400n);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.constantFrom(0n, 1n, 18_446_744_073_709_551_615n, 86_400n);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.constantFrom(0, 1, 4_294_967_295);
    default:
      return fc.constantFrom(0, -1, 1, 2_147_483_647, -2_147_483_648);
  }
}

function fieldValue(field: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar);
    case "enum":
      return fc.oneof(fc.constantFrom(...field.enum.values.map((v) => v.number)), fc.constantFrom(-1, 99));
    case "message":
      return messageInit(field.message, depth + 1);
    case "list": {
      const item = field.listKind === "scalar" ? scalarValue(field.scalar) : field.listKind === "enum" ? fc.constantFrom(...field.enum.values.map((v) => v.number)) : messageInit(field.message, depth + 1);
      return fc.array(item, { maxLength: 3 });
    }
    case "map": {
      const value = field.mapKind === "scalar" ? scalarValue(field.scalar) : field.mapKind === "enum" ? fc.constantFrom(...field.enum.values.map((v) => v.number)) : messageInit(field.message, depth + 1);
      return fc.dictionary(fc.string({ maxLength: 8 }), value, { maxKeys: 3 }).map((d) => (field.mapKey === ScalarType.STRING ? d : {}));
    }
  }
}

/** An init object for `desc` with a random subset of its fields set; nested messages stop at depth 3. */
function messageInit(desc: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  if (depth > 3) return fc.constant({});
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      parts[member.localName] = fc.oneof(
        fc.constant(undefined),
        ...member.fields.map((f) => fieldValue(f, depth).map((value) => ({ case: f.localName, value }))),
      );
    } else {
      parts[member.localName] = fieldValue(member, depth);
    }
  }
  return fc.record(parts, { requiredKeys: [] }) as fc.Arbitrary<Record<string, unknown>>;
}

function defined(init: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined));
}

/** The bytes of a random, well-typed message of `desc`. */
export function randomMessageBytes(desc: DescMessage): fc.Arbitrary<Buffer> {
  return messageInit(desc).map((init) => Buffer.from(toBinary(desc, create(desc, defined(init) as never))));
}
