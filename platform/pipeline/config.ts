// The shape of gateway.config.yml after env substitution, defaults and
// validation. Express Gateway's model: apiEndpoints, serviceEndpoints,
// plans, consumers and pipelines of policies. A policy's own global section
// (`quota:`, `shedding:`) is typed and validated by that policy
// (policies/<name>/settings.ts); the gateway reads it with policySettings().

import type { ServiceEndpointConfig } from '../upstream/settings.ts';


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

/** Sellers' API keys made through the API (platform/keys). */
export interface KeysConfig {
  /** How long a rotated key keeps working after its successor is issued. */
  rotationOverlapSec: number;
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
  notifications: NotificationSettings;
  keys: KeysConfig;
  /** Directory of the config file; contract paths resolve against it. */
  baseDir: string;
}

/** A policy's global section of the config (`quota`, `shedding`), as that policy declared and validated it. */
export function policySettings<S>(config: GatewayConfig, section: string): S {
  return (config as unknown as Record<string, unknown>)[section] as S;
}
