export {
  createStorage,
  type StorageConfig,
  storageConfigProblems,
  storageEnv,
  storageEnvSchema,
} from "./config.js";
export { Digest } from "./digest.js";
export {
  createFilesystemStorage,
  type FilesystemStorage,
  type FilesystemStorageOptions,
  TEMP_MAX_AGE_MS,
  TEMP_PREFIX,
} from "./filesystem.js";
export { createS3Storage, PART_SIZE, QUEUE_SIZE, type S3Storage, type S3StorageOptions } from "./s3.js";
export {
  contentDisposition,
  type DownloadUrlOptions,
  InvalidKeyError,
  MAX_KEY_LENGTH,
  MAX_URL_EXPIRY_SECONDS,
  type PutOptions,
  type PutResult,
  type Storage,
  type StoredObject,
  validateKey,
} from "./storage.js";
