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
}

export interface ApiEndpointConfig {
  host: string;
  paths: string[];
  methods: string[];
}

export interface ServiceEndpointConfig {
  url: string;
  timeoutMs: number;
  connections: number;
  healthPath: string;
  /** A required upstream being down makes /readyz answer 503. */
  readiness: 'required' | 'optional';
}

export interface PlanConfig {
  description: string;
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

export interface GatewayConfig {
  http: HttpConfig;
  /** OpenAPI documents by name, paths relative to the config file. */
  contracts: Record<string, string>;
  apiEndpoints: Record<string, ApiEndpointConfig>;
  serviceEndpoints: Record<string, ServiceEndpointConfig>;
  plans: Record<string, PlanConfig>;
  consumers: ConsumerConfig[];
  pipelines: Record<string, PipelineConfig>;
  /** Directory of the config file; contract paths resolve against it. */
  baseDir: string;
}
