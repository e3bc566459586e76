// `coord export`, receiving side: files streamed by the coordinator become a bundle directory.
// The server's paths are checked before anything is written; a refused or broken export leaves
// nothing behind.
import { mkdir, open, readdir, rm, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FleetgateError } from "../../shared/errors.js";
import { unsafePathReason } from "./paths.js";

export interface BundleChunk {
  /** Bundle-relative; a file larger than one message arrives as consecutive chunks with the same path. */
  path: string;
  content: Uint8Array;
}

async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") return false;
    throw err;
  }
}

/** Refuses a target that already holds something: an export never mixes with other files. */
export async function prepareTarget(target: string): Promise<void> {
  if (!(await isEmptyOrAbsent(target))) throw new FleetgateError("conflict", `${target} is not empty; export into a new directory, or remove it first`);
  await mkdir(target, { recursive: true });
}

/** Writes every chunk under `target` (already prepared); returns how many files and bytes. */
export async function receiveBundle(chunks: AsyncIterable<BundleChunk>, target: string): Promise<{ files: number; bytes: number }> {
  let current: { path: string; handle: FileHandle } | undefined;
  let files = 0;
  let bytes = 0;
  try {
    for await (const chunk of chunks) {
      if (chunk.path !== current?.path) {
        const unsafe = unsafePathReason(chunk.path);
        if (unsafe) throw new FleetgateError("bad_input", `the coordinator sent ${JSON.stringify(chunk.path)} (${unsafe}); refused, nothing kept`);
        await current?.handle.close();
        current = undefined;
        await mkdir(join(target, dirname(chunk.path)), { recursive: true });
        // "wx": a path sent twice, or one that would pass through an existing file, is an error.
        const handle = await open(join(target, chunk.path), "wx").catch((err: NodeJS.ErrnoException) => {
          throw FleetgateError.from(err, "internal", `the coordinator sent ${chunk.path} twice or over another file (${err.code}); nothing kept`);
        });
        current = { path: chunk.path, handle };
        files++;
      }
      await current.handle.write(chunk.content);
      bytes += chunk.content.length;
    }
    await current?.handle.close();
    return { files, bytes };
  } catch (err) {
    await current?.handle.close().catch(() => undefined);
    // The target was empty or absent before: removing it removes only what this export wrote.
    await rm(target, { recursive: true, force: true });
    throw err;
  }
}
