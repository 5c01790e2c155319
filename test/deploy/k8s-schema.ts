// Kubernetes manifests against the API's own schemas, offline, two ways:
// - kubernetes-models' validators (compiled from the Kubernetes OpenAPI
//   schemas, 1.34+): types, enums, required fields, formats;
// - its TypeScript interfaces, through the compiler's excess-property check:
//   an unknown or misspelt field (which the OpenAPI schemas allow and the API
//   server would drop or refuse) is an error — kubeconform's -strict.

import { join } from 'node:path';
import ts from 'typescript';
import { ROOT, isRecord } from './helpers.ts';

interface ModelClass {
  new (data: never): { validate(): void };
}

interface Kind {
  /** Module of kubernetes-models exporting the class and the interface `I<kind>`. */
  module: string;
  load: () => Promise<ModelClass>;
}

const KINDS: Record<string, Kind> = {
  'v1/Namespace': { module: 'kubernetes-models/v1/Namespace', load: async () => (await import('kubernetes-models/v1/Namespace')).Namespace },
  'v1/ConfigMap': { module: 'kubernetes-models/v1/ConfigMap', load: async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap },
  'v1/Secret': { module: 'kubernetes-models/v1/Secret', load: async () => (await import('kubernetes-models/v1/Secret')).Secret },
  'v1/Service': { module: 'kubernetes-models/v1/Service', load: async () => (await import('kubernetes-models/v1/Service')).Service },
  'apps/v1/Deployment': { module: 'kubernetes-models/apps/v1/Deployment', load: async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment },
  'policy/v1/PodDisruptionBudget': {
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    load: async () => (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget,
  },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    load: async () => (await import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler')).HorizontalPodAutoscaler,
  },
};

export interface Manifest {
  file: string;
  index: number;
  body: Record<string, unknown>;
}

function kindKey(body: Record<string, unknown>): string {
  return `${String(body.apiVersion)}/${String(body.kind)}`;
}

export function label(m: Manifest): string {
  const name = isRecord(m.body.metadata) ? String(m.body.metadata.name) : '?';
  return `${m.file}#${m.index} ${kindKey(m.body)} ${name}`;
}

/** Schema errors per manifest (empty when all are valid). */
export async function schemaErrors(manifests: Manifest[]): Promise<string[]> {
  const errors: string[] = [];
  for (const m of manifests) {
    const kind = KINDS[kindKey(m.body)];
    if (!kind) {
      errors.push(`${label(m)}: no schema known for ${kindKey(m.body)}`);
      continue;
    }
    const Model = await kind.load();
    try {
      new Model(m.body as never).validate();
    } catch (error) {
      errors.push(`${label(m)}: ${(error as Error).message}`);
    }
  }
  return errors;
}

/** Unknown fields and type mistakes found by the compiler against kubernetes-models' interfaces. */
export function strictErrors(manifests: Manifest[]): string[] {
  const known = manifests.filter((m) => KINDS[kindKey(m.body)]);
  const imports = [...new Set(known.map((m) => KINDS[kindKey(m.body)]?.module))].map((module, i) => `import type { I${module?.split('/').pop()} as T${i} } from '${module}';`);
  const modules = [...new Set(known.map((m) => KINDS[kindKey(m.body)]?.module))];
  const lines = known.map((m, i) => {
    const type = `T${modules.indexOf(KINDS[kindKey(m.body)]?.module)}`;
    return `// ${label(m)}\nexport const m${i}: ${type} = ${JSON.stringify(m.body, null, 1)};`;
  });
  const virtual = join(ROOT, 'test/deploy/__k8s-manifests__.ts');
  const source = `${imports.join('\n')}\n${lines.join('\n')}\n`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === virtual ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === virtual || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === virtual ? source : readFile(name));
  const program = ts.createProgram([virtual], options, host);
  const file = program.getSourceFile(virtual);
  return ts.getPreEmitDiagnostics(program, file).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    // The comment above each manifest says which one the error is in.
    const text = where ? source.split('\n').slice(0, where.line + 1).reverse().find((line) => line.startsWith('// ')) : undefined;
    return `${text?.slice(3) ?? '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}
