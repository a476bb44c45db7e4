// The client's size as an application ships it: each entry point bundled
// and minified by esbuild, then gzipped. Prints the figures; fails when
// the core (without the passkey helpers) exceeds its 10 kB budget.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const BUDGET = 10 * 1024;
const entries = { "@warden/client": "src/index.ts", "@warden/client/passkeys": "src/passkeys.ts" };
let over = false;
for (const [name, entry] of Object.entries(entries)) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    write: false,
  });
  const code = result.outputFiles[0].contents;
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`${name}: ${code.length} B minified, ${gzipped} B gzipped`);
  if (name === "@warden/client" && gzipped > BUDGET) {
    console.error(`${name} is over its budget of ${BUDGET} B gzipped`);
    over = true;
  }
}
process.exit(over ? 1 : 0);
