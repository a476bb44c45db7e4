// The client's types come from Warden's OpenAPI document: a change in the
// API that touches what the client uses must break the client's build.
// Each case changes a copy of the document, regenerates the types and runs
// the compiler on a copy of the client; the unchanged document compiles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const openapi = JSON.parse(readFileSync(join(here, "../../api/openapi.json"), "utf8"));
const tsc = join(here, "node_modules/typescript/bin/tsc");

/** Compiles the client against `document`; answers the compiler's status and output. */
function compile(document) {
  const dir = mkdtempSync(join(tmpdir(), "warden-client-"));
  try {
    cpSync(join(here, "src"), join(dir, "src"), { recursive: true, filter: (path) => !path.includes("generated") });
    cpSync(join(here, "tsconfig.json"), join(dir, "tsconfig.json"));
    writeFileSync(join(dir, "openapi.json"), JSON.stringify(document));
    execFileSync(process.execPath, [join(here, "scripts/generate.mjs"), join(dir, "openapi.json"), join(dir, "src/generated/api.ts")], {
      cwd: here,
    });
    const run = spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json"), "--noEmit"], { encoding: "utf8" });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const changed = (edit) => {
  const copy = structuredClone(openapi);
  edit(copy);
  return copy;
};
const schemas = (doc) => doc.components.schemas;
/** Renames the required property `from` of `schema` to `to`. */
const rename = (schema, from, to) => {
  schema.properties[to] = schema.properties[from];
  delete schema.properties[from];
  schema.required = schema.required.map((name) => (name === from ? to : name));
};

test("the client compiles against the API's own document", () => {
  const { status, output } = compile(openapi);
  assert.equal(status, 0, output);
});

const drifts = {
  "the session's CSRF token renamed": [
    (doc) => rename(schemas(doc).SessionInfo, "csrf_token", "csrf"),
    /csrf_token/,
  ],
  "the sessions list's field renamed": [
    (doc) => rename(schemas(doc).SessionList, "sessions", "items"),
    /sessions/,
  ],
  "sign-out-others removed": [(doc) => delete doc.paths["/api/v1/sessions/sign-out-others"], /sign-out-others/],
  "the revoked count turned into a string": [
    (doc) => (schemas(doc).Revoked.properties.revoked = { type: "string" }),
    /Type 'string' is not assignable to type 'number'/,
  ],
  "the second factor's code renamed": [
    (doc) => rename(schemas(doc).Code, "code", "otp"),
    /code/,
  ],
  "sign-out's method changed": [
    (doc) => {
      const paths = doc.paths["/api/v1/sign-out"];
      paths.delete = paths.post;
      delete paths.post;
    },
    /sign-out/,
  ],
};

for (const [name, [edit, expected]] of Object.entries(drifts)) {
  test(`the build breaks when ${name}`, () => {
    const { status, output } = compile(changed(edit));
    assert.notEqual(status, 0, `compiled although ${name}`);
    assert.match(output, /error TS\d+/);
    assert.match(output, expected);
  });
}
