// Generates src/generated/api.ts from Warden's OpenAPI document, so that
// every type the client uses comes from the API's own description: a field
// the API renames or drops breaks the client's build (test/api-drift.test.mjs).
//
//   node scripts/generate.mjs <openapi.json> <out.ts>
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node scripts/generate.mjs <openapi.json> <out.ts>");
  process.exit(2);
}
const document = JSON.parse(readFileSync(input, "utf8"));
// A schema that contains itself through an anyOf (SafeJson: any JSON
// value) becomes an indexed access on the interface being declared, which
// TypeScript refuses (TS2502); such schemas are typed as JSON values.
const JSON_VALUE = "type JsonValue = null | boolean | string | number | JsonValue[] | { [key: string]: JsonValue };\n";
const selfReferencing = (schema, path) =>
  (schema.anyOf ?? schema.oneOf ?? []).some((branch) =>
    JSON.stringify(branch).includes(`"#/components/schemas/${path.split("/").pop()}"`),
  );
const ast = await openapiTS(document, {
  exportType: true,
  emptyObjectsUnknown: true,
  transform(schema, { path }) {
    if (path?.startsWith("#/components/schemas/") && path.split("/").length === 4 && selfReferencing(schema, path)) {
      return ts.factory.createTypeReferenceNode("JsonValue");
    }
    return undefined;
  },
});
mkdirSync(dirname(output), { recursive: true });
writeFileSync(
  output,
  `// Generated from ${input.replace(/^(\.\.\/)+/, "")} by scripts/generate.mjs. Do not edit.\n` + JSON_VALUE + astToString(ast),
);
