export { type Job, Queue, QueueEvents, UnrecoverableError } from "bullmq";
export {
  assertHandlers,
  type Consumer,
  type ConsumerOptions,
  createConsumer,
  type Handler,
  type Handlers,
  type JobContext,
  type JobEnd,
  QueuePaused,
  RunLater,
} from "./consumer.js";
export { createFlowProducer, type FlowChild, type FlowProducer } from "./flow.js";
export {
  type AddedOrPending,
  addUnlessPending,
  createProducer,
  type Producer,
  type QueueConnection,
} from "./producer.js";
export {
  assertQueueRedisPolicy,
  assertRedisReachable,
  checkEvictionPolicy,
  createRedis,
  type EvictionPolicyCheck,
  isRedisUnavailable,
  QUEUE_EVICTION_POLICY,
  REDIS_COMMAND_TIMEOUT_MS,
  redisCommandTimeoutMs,
  redisOptions,
  redisOptionsFromUrl,
} from "./redis.js";
export { assertMatches, PayloadError } from "./validate.js";
