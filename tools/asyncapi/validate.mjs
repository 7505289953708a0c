// Parse an AsyncAPI document with the official parser; print every diagnostic, exit 1 on an error.
//   node tools/asyncapi/validate.mjs docs/asyncapi.json
import { readFile } from "node:fs/promises";
import { DiagnosticSeverity, Parser } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "information", "hint"];

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs DOCUMENT");
  process.exit(2);
}
const { document, diagnostics } = await new Parser().parse(await readFile(path, "utf8"), { source: path });
for (const { severity, code, message, path: where } of diagnostics) {
  if (severity <= DiagnosticSeverity.Warning) {
    console.log(`${path}: ${SEVERITY[severity]} ${code}: ${message} (at /${where.join("/")})`);
  }
}
const errors = diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Error);
if (errors.length > 0 || document === undefined) {
  console.error(`${path}: not a valid AsyncAPI document (${errors.length} error(s))`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()} (${document.allMessages().length} messages)`);
