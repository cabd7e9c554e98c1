// Validates an OpenRPC document against the OpenRPC meta-schema (@open-rpc/meta-schema, with
// ajv), and every param and result schema in it as a JSON schema.
//   node validate.mjs docs/openrpc.json
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const { openrpcDocument } = require("@open-rpc/meta-schema");
const Ajv = require("ajv");

// The OpenRPC meta-schema refers to the JSON Schema meta-schema of json-schema.tools for every
// schema in a document; both name that dialect URL, which ajv does not know (their content is
// draft-07), so it is dropped and the referenced schema added under its id.
const jsonSchemaMeta = require("@json-schema-tools/meta-schema/schema.json");
const strip = (s) => {
  const c = { ...s };
  delete c.$schema;
  return c;
};
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(strip(jsonSchemaMeta));
// (Referred to with and without the trailing slash.)
ajv.addSchema({ ...strip(jsonSchemaMeta), $id: "https://meta.json-schema.tools" });
const validate = ajv.compile(strip(openrpcDocument));
const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
if (!validate(doc)) {
  console.error(JSON.stringify(validate.errors, null, 2));
  process.exit(1);
}
// Each schema must itself compile (with the document's components for $ref).
const schemas = new Ajv({ strict: false });
schemas.addSchema({ $id: "doc", components: doc.components }, "doc");
let count = 0;
for (const m of doc.methods) {
  for (const s of [...m.params.map((p) => p.schema), m.result.schema]) {
    const fixed = JSON.parse(JSON.stringify(s).replaceAll('"#/components/', '"doc#/components/'));
    schemas.compile(fixed);
    count++;
  }
}
console.log(`valid OpenRPC ${doc.openrpc}: ${doc.methods.length} methods, ${count} schemas`);
