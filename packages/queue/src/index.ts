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
export { createProducer, type Producer, type QueueConnection } from "./producer.js";
export { assertRedisReachable, createRedis, redisOptions, redisOptionsFromUrl } from "./redis.js";
export { assertMatches, PayloadError } from "./validate.js";
