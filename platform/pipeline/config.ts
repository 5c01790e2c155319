// The shape of gateway.config.yml after env substitution, defaults and
// validation. Express Gateway's model: apiEndpoints, serviceEndpoints,
// plans, consumers and pipelines of policies.

export interface HttpConfig {
  port: number;
  host: string;
  /** Largest JSON body accepted, in bytes. */
  bodyLimit: number;
  /** Grace period for in-flight requests on SIGTERM. */
  shutdownGraceMs: number;
  /**
   * Addresses/CIDRs of trusted proxies, comma-separated. A request from one
   * of them is attributed to the address in X-Forwarded-For (per-address
   * throttling needs the client's address, not the proxy's). Empty: the
   * socket's address, and X-Forwarded-For is ignored (a client cannot pick it).
   */
  trustProxy: string;
}

export interface ApiEndpointConfig {
  host: string;
  paths: string[];
  methods: string[];
}

export interface ResilienceConfig {
  /** Retries of idempotent reads only (GET/HEAD); writes are never retried. */
  retry: {
    /** Retries after the first attempt (cockatiel's count); 0 disables retrying. */
    maxAttempts: number;
    initialDelayMs: number;
    maxDelayMs: number;
  };
  /** Sampling breaker: opens when the failure rate over the window passes the threshold. */
  breaker: { failureRateThreshold: number; samplingDurationMs: number; minimumRps: number; halfOpenAfterMs: number };
  /** Concurrency cap with a small queue; overflow is answered 503 at once. */
  bulkhead: { limit: number; queue: number };
}

export interface ServiceEndpointConfig {
  url: string;
  /** Per attempt; the request is really aborted (AbortSignal to undici). */
  timeoutMs: number;
  resilience: ResilienceConfig;
  connections: number;
  healthPath: string;
  /** A required upstream being down makes /readyz answer 503. */
  readiness: 'required' | 'optional';
}

export interface RateConfig {
  /** Sustained requests (cost units) per second. */
  perSecond: number;
  /** Extra units allowed above the rate within `burstWindowSec`. */
  burst: number;
  burstWindowSec: number;
}

export interface PlanLimits {
  rate: RateConfig;
  /** Cost units per 24 h window (from the first request of the window). */
  dailyQuota: number;
  concurrentPriceJobs: number;
  uploadMaxBytes: number;
}

export interface PlanConfig extends PlanLimits {
  description: string;
  /** Free plans' reads are shed before paid plans' reads. */
  tier: 'free' | 'paid';
}

export interface ConsumerKeyConfig {
  id: string;
  /** Hex SHA-256 of the API key; the key itself is never stored. */
  sha256: string;
  revoked: boolean;
}

export interface ConsumerConfig {
  id: string;
  name: string;
  plan: string;
  keys: ConsumerKeyConfig[];
  /** Per-seller exceptions to the plan's limits. */
  overrides?: Partial<PlanLimits>;
}

export interface ConditionConfig {
  name: string;
  [key: string]: unknown;
}

export interface PolicyStepConfig {
  condition?: ConditionConfig;
  action?: Record<string, unknown>;
}

/** `{ "key-auth": step | step[] }`, exactly one key. */
export type PolicyEntryConfig = Record<string, PolicyStepConfig | PolicyStepConfig[]>;

export interface PipelineConfig {
  apiEndpoints: string[];
  policies: PolicyEntryConfig[];
}

export const PRIORITY_CLASSES = ['critical', 'write', 'paid-read', 'free-read'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

export interface QuotaSettings {
  /** Share of each limit one replica enforces on its own while Redis is unreachable. */
  insuranceShare: number;
  /** Redis command timeout before the insurance limiter decides. */
  redisTimeoutMs: number;
  /** Failed API-key attempts per client address before it is blocked. */
  invalidKeyAttempts: number;
  invalidKeyWindowSec: number;
  invalidKeyBlockSec: number;
}

export interface AdaptiveConcurrencySettings {
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
  /** How fast the limit follows the gradient (0..1). */
  smoothing: number;
  /** Latency growth tolerated over the no-load latency before the limit shrinks. */
  rttTolerance: number;
  /** Longest gap between two measurements of the no-load latency (the limit held at light load for a few requests); default 30. */
  probeIntervalSec?: number;
}

export interface SheddingSettings {
  enabled: boolean;
  /** Share of an upstream's adaptive limit each class may fill. */
  classShares: Record<PriorityClass, number>;
  /** Event-loop delay (p99, ms) above which each class is shed. */
  eventLoopDelayMs: Record<Exclude<PriorityClass, 'critical'>, number>;
  eventLoopSampleMs: number;
  retryAfterSec: number;
  adaptive: AdaptiveConcurrencySettings;
}

/** The operators' live stream (gateway/notify). */
export interface NotificationSettings {
  stream: {
    /** A comment line this often keeps proxies and browsers from closing an idle stream. */
    heartbeatMs: number;
    /** Events kept for Last-Event-ID resumes (Redis stream MAXLEN ~, or the in-process ring). */
    bufferSize: number;
    /** A client whose unsent output passes this is disconnected; it resumes with Last-Event-ID. */
    maxBufferedBytes: number;
    /** Open streams one operator (the token's `sub`) may hold on one replica; more get 429. */
    maxStreamsPerOperator: number;
    /** Open streams one replica serves; more get 503 (another replica may have room). */
    maxStreams: number;
  };
}

export interface GatewayConfig {
  http: HttpConfig;
  /** OpenAPI documents by name, paths relative to the config file. */
  contracts: Record<string, string>;
  apiEndpoints: Record<string, ApiEndpointConfig>;
  serviceEndpoints: Record<string, ServiceEndpointConfig>;
  plans: Record<string, PlanConfig>;
  consumers: ConsumerConfig[];
  pipelines: Record<string, PipelineConfig>;
  quota: QuotaSettings;
  shedding: SheddingSettings;
  notifications: NotificationSettings;
  /** Directory of the config file; contract paths resolve against it. */
  baseDir: string;
}
