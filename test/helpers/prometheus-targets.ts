/**
 * Which scrape targets Prometheus' Kubernetes discovery makes of the pods a set of manifests
 * runs, and what a scrape job's `relabel_configs` keep of them: the discovery labels of the
 * `pod` and `endpoints` roles, and relabelling as Prometheus applies it (anchored RE2-style
 * regexes, `;`-joined source labels, `$1` / `${1}` replacements). Enough of both for the
 * actions deploy/monitoring/prometheus.yml uses: replace, keep, drop, labelmap, labeldrop,
 * labelkeep.
 */
import type { K8sObject } from './k8s-manifests.js';

/** One relabelling step as prometheus.yml writes it. */
export interface RelabelConfig {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  action?: 'replace' | 'keep' | 'drop' | 'labelmap' | 'labeldrop' | 'labelkeep';
}

/** A discovered target: its labels before relabelling (`__meta_*`, `__address__`). */
export type Labels = Record<string, string>;

/** A pod as discovery sees it: name, namespace, labels, annotations and container ports. */
export interface DiscoveredPod {
  name: string;
  namespace: string;
  ip: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ports: Array<{ name?: string; containerPort: number }>;
}

const sanitize = (name: string): string => name.replace(/[^a-zA-Z0-9_]/g, '_');

function podMeta(pod: DiscoveredPod): Labels {
  const out: Labels = {
    __meta_kubernetes_namespace: pod.namespace,
    __meta_kubernetes_pod_name: pod.name,
    __meta_kubernetes_pod_ip: pod.ip,
    __meta_kubernetes_pod_ready: 'true',
  };
  for (const [k, v] of Object.entries(pod.labels)) {
    out[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
    out[`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`] = 'true';
  }
  for (const [k, v] of Object.entries(pod.annotations)) {
    out[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
    out[`__meta_kubernetes_pod_annotationpresent_${sanitize(k)}`] = 'true';
  }
  return out;
}

function portMeta(port: { name?: string; containerPort: number }): Labels {
  return {
    __meta_kubernetes_pod_container_port_name: port.name ?? '',
    __meta_kubernetes_pod_container_port_number: String(port.containerPort),
    __meta_kubernetes_pod_container_port_protocol: 'TCP',
  };
}

/** The `pod` role: one target per container port of the pod. */
export function podRoleTargets(pod: DiscoveredPod): Labels[] {
  return pod.ports.map((p) => ({
    __address__: `${pod.ip}:${p.containerPort}`,
    ...podMeta(pod),
    ...portMeta(p),
  }));
}

/**
 * The `endpoints` role: for every Service in the pod's namespace whose selector matches the
 * pod, one target per Service port (its target port resolved on the pod), and one per
 * container port that no Service port names (without endpoint-port labels).
 */
export function endpointsRoleTargets(pod: DiscoveredPod, services: K8sObject[]): Labels[] {
  const out: Labels[] = [];
  for (const svc of services) {
    if ((svc.metadata.namespace ?? 'default') !== pod.namespace) continue;
    const selector = (svc.spec?.selector ?? {}) as Record<string, string>;
    if (Object.keys(selector).length === 0) continue;
    if (!Object.entries(selector).every(([k, v]) => pod.labels[k] === v)) continue;
    const svcMeta: Labels = {
      __meta_kubernetes_namespace: pod.namespace,
      __meta_kubernetes_service_name: svc.metadata.name,
      __meta_kubernetes_endpoints_name: svc.metadata.name,
    };
    for (const [k, v] of Object.entries(svc.metadata.labels ?? {}))
      svcMeta[`__meta_kubernetes_service_label_${sanitize(k)}`] = v;
    const bound = new Set<number>();
    for (const sp of (svc.spec?.ports ?? []) as Array<{
      name?: string;
      port: number;
      targetPort?: string | number;
    }>) {
      const target = sp.targetPort ?? sp.port;
      const port = pod.ports.find((p) =>
        typeof target === 'number' ? p.containerPort === target : p.name === target,
      );
      if (!port) continue;
      bound.add(port.containerPort);
      out.push({
        __address__: `${pod.ip}:${port.containerPort}`,
        ...svcMeta,
        ...podMeta(pod),
        ...portMeta(port),
        __meta_kubernetes_endpoint_port_name: sp.name ?? '',
        __meta_kubernetes_endpoint_port_protocol: 'TCP',
        __meta_kubernetes_endpoint_ready: 'true',
      });
    }
    for (const p of pod.ports.filter((q) => !bound.has(q.containerPort)))
      out.push({ __address__: `${pod.ip}:${p.containerPort}`, ...svcMeta, ...podMeta(pod), ...portMeta(p) });
  }
  return out;
}

/** Go's regexp.Expand for the forms relabel replacements use: `$1`, `${1}`, `$$`. */
function expand(template: string, match: RegExpExecArray): string {
  return template.replace(
    /\$(\$|\{(\w+)\}|(\d+))/g,
    (_all, whole: string, braced?: string, bare?: string) => {
      if (whole === '$') return '$';
      const group = Number(braced ?? bare);
      return Number.isInteger(group) ? (match[group] ?? '') : '';
    },
  );
}

/**
 * Applies a job's relabelling to one target, as Prometheus does: `job`, `__scheme__` and
 * `__metrics_path__` are set first, then each step; undefined when a step drops the target.
 * The result keeps the `__` labels Prometheus uses to scrape (`__address__`,
 * `__metrics_path__`) and drops the other `__` labels; `instance` defaults to the address.
 */
export function relabel(target: Labels, jobName: string, configs: RelabelConfig[]): Labels | undefined {
  let labels: Labels = { job: jobName, __scheme__: 'http', __metrics_path__: '/metrics', ...target };
  for (const c of configs) {
    const action = c.action ?? 'replace';
    const re = new RegExp(`^(?:${c.regex ?? '(.*)'})$`);
    const replacement = c.replacement ?? '$1';
    const value = (c.source_labels ?? []).map((l) => labels[l] ?? '').join(c.separator ?? ';');
    if (action === 'keep' && !re.test(value)) return undefined;
    if (action === 'drop' && re.test(value)) return undefined;
    if (action === 'replace') {
      const m = re.exec(value);
      if (!m || c.target_label === undefined) continue;
      const out = expand(replacement, m);
      if (out === '') delete labels[c.target_label];
      else labels[c.target_label] = out;
    }
    if (action === 'labelmap') {
      const next = { ...labels };
      for (const [k, v] of Object.entries(labels)) {
        const m = re.exec(k);
        if (m) next[expand(replacement, m)] = v;
      }
      labels = next;
    }
    if (action === 'labeldrop' || action === 'labelkeep')
      labels = Object.fromEntries(
        Object.entries(labels).filter(([k]) => re.test(k) === (action === 'labelkeep')),
      );
  }
  const kept = Object.fromEntries(
    Object.entries(labels).filter(
      ([k]) => !k.startsWith('__') || k === '__address__' || k === '__metrics_path__',
    ),
  );
  kept.instance ??= kept.__address__ ?? '';
  return kept;
}

/** The pods a workload's template would run (three of them would look alike but for name and IP). */
export function podOf(workload: K8sObject, ip: string): DiscoveredPod {
  const template = workload.spec.template;
  return {
    name: `${workload.metadata.name}-0`,
    namespace: workload.metadata.namespace ?? 'default',
    ip,
    labels: template.metadata?.labels ?? {},
    annotations: template.metadata?.annotations ?? {},
    ports: (template.spec.containers as Array<{ ports?: DiscoveredPod['ports'] }>).flatMap(
      (c) => c.ports ?? [],
    ),
  };
}
