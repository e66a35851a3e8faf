import { Ajv, type Options } from "ajv";
import formats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

type AddFormats = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = ((formats as unknown as { default?: AddFormats }).default ?? formats) as AddFormats;

/**
 * Request validation. Query strings and path parameters arrive as text, so they are coerced
 * ("50" → 50, "true" → true); JSON bodies are not: `"password": 123` is a 400, not a string.
 * Nothing is stripped (removeAdditional false: an unknown field is an error naming it), and every
 * bad field is reported (allErrors).
 */
function ajvFor(coerce: boolean) {
  const options: Options = {
    coerceTypes: coerce ? "array" : false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: true,
    strict: false,
  };
  const ajv = new Ajv(options);
  addFormats(ajv);
  return ajv;
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const text = ajvFor(true);
  const json = ajvFor(false);
  return ({ schema, httpPart }) => (httpPart === "body" ? json : text).compile(schema as object) as never;
}
