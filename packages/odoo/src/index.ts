export { BufferPool } from "./buffers.js";
export {
  type CheckReport,
  checkModel,
  formatCheckReport,
  formatSpeed,
  type ModelCheck,
  measureServer,
  runOdooCheck,
  type ServerSpeed,
  type SpeedLevel,
} from "./check.js";
export {
  backoffDelay,
  type CallOptions,
  createOdooClient,
  type Domain,
  type DomainTerm,
  type FieldMeta,
  type FieldsMeta,
  type OdooClient,
  type OdooClientOptions,
  type OdooContext,
  type OdooRecord,
  type ReadOptions,
  type RecordPage,
  type RequestOptions,
  type RetryInfo,
  type RetryOptions,
  type SearchOptions,
  type SearchReadOptions,
} from "./client.js";
export { pythonFloatRepr, toDecimalString } from "./decimal.js";
export { encodeMethodCall, prepareValue, toOdooDatetime } from "./encode.js";
export { clientOptionsFromEnv, ODOO_PROTOCOLS, type OdooEnv, odooEnv, odooEnvSchema } from "./env.js";
export {
  faultToError,
  htmlTitle,
  OdooAccessError,
  OdooAuthError,
  OdooEncodeError,
  OdooError,
  type OdooErrorDetails,
  type OdooProtocol,
  OdooServerError,
  OdooTransportError,
  OdooUserError,
  parseTraceback,
  redactError,
  redactText,
} from "./errors.js";
export { DEFAULT_MAX_RESPONSE_BYTES, formatBytes, redactUrlText } from "./http.js";
export {
  AdaptiveConcurrency,
  type AdaptiveOptions,
  type AdaptiveState,
  type AnswerSample,
  isRefusal,
  type LimiterShare,
  type RequestLimiter,
  SharedLimiter,
} from "./limiter.js";
export {
  type ExpectedField,
  FINANCE_MODEL_NAMES,
  FINANCE_MODELS,
  type FinanceModel,
  type ResolvedFields,
  resolveFields,
} from "./models.js";
export {
  type NormalizedRecord,
  type NormalizeOptions,
  normalizeRecord,
  normalizeRecords,
  odooDatetimeToIso,
} from "./normalize.js";
export { jsonNestingOver, type OdooVersion, type OrmCall } from "./transports.js";
export {
  type DecodeOptions,
  decodeMethodResponse,
  decodeRecords,
  looksLikeMethodResponse,
  MAX_NESTING,
  type MethodResponse,
  type RecordVisitor,
  XmlRpcParseError,
  type XmlRpcValue,
} from "./xmlrpc-decode.js";
