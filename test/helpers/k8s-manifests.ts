/**
 * Kubernetes manifests as the deployment tests see them: built with the real
 * `kubectl kustomize`, parsed, and validated against the kubernetes-models schemas
 * (core, Istio, KEDA, Prometheus Operator).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Gateway } from '@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

export const ROOT = resolve(import.meta.dirname, '../..');
export const K8S = join(ROOT, 'deploy/k8s');

/** A manifest as plain data (what kubectl would send). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  type?: string;
  [key: string]: unknown;
}

/** The model (schema) for every apiVersion/kind the manifests may contain. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/CronJob': CronJob,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.istio.io/v1beta1/Gateway': Gateway,
  'networking.istio.io/v1beta1/VirtualService': VirtualService,
  'networking.istio.io/v1beta1/DestinationRule': DestinationRule,
  'security.istio.io/v1beta1/PeerAuthentication': PeerAuthentication,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/**
 * Validates one object against its schema; throws naming the object. An apiVersion/kind
 * without a model is an error too, so nothing goes unvalidated.
 */
export function validateObject(obj: K8sObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  const what = `${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}`;
  if (!Model) throw new Error(`${what}: no schema model for this apiVersion/kind`);
  try {
    new Model(structuredClone(obj) as never).validate();
  } catch (error) {
    throw new Error(`${what} is invalid: ${(error as Error).message}`, { cause: error });
  }
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** `kubectl kustomize <dir>` (relative to deploy/k8s), parsed. */
export function kustomize(dir: string, extraArgs: string[] = []): K8sObject[] {
  const res = spawnSync('kubectl', ['kustomize', join(K8S, dir), ...extraArgs], { encoding: 'utf8' });
  if ((res.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new Error(
      'kubectl is not on PATH: the manifest tests build deploy/k8s with `kubectl kustomize` (kubectl ≥ 1.27, ' +
        'its bundled kustomize v5; Debian’s kubernetes-client 1.20 is too old). Install kubectl from the Kubernetes ' +
        'package repository and run the tests again.',
    );
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${res.stderr}`);
  return parseManifests(res.stdout);
}

/** Builds an overlay plus extra components, as a user's own overlay would add them. */
export function kustomizeWith(overlay: string, components: string[]): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'agentd-kustomize-'));
  try {
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources:',
        `  - ${relative(dir, join(K8S, overlay))}`,
        'components:',
        ...components.map((c) => `  - ${relative(dir, join(K8S, c))}`),
        '',
      ].join('\n'),
    );
    const res = spawnSync('kubectl', ['kustomize', dir, '--load-restrictor', 'LoadRestrictionsNone'], {
      encoding: 'utf8',
    });
    if (res.status !== 0)
      throw new Error(`kubectl kustomize (${overlay} + ${components.join(', ')}) failed:\n${res.stderr}`);
    return parseManifests(res.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the manifests`);
  return found;
}
