/**
 * Distributed tracing with a minimal OpenTelemetry set (api, sdk-trace-base, core's W3C
 * propagator, the OTLP/HTTP exporter), version-matched for Node 20. Off by default: then
 * nothing of the SDK is loaded and every call here is a no-op. On when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set (spans exported over OTLP/HTTP) or `tracing.enabled`
 * (spans made and dropped: what tracing costs without a collector).
 *
 * Context is passed explicitly (no async-hooks context manager): a server span's context
 * travels in the call context to the task run, which parents its webhook deliveries and
 * the agent's outbound A2A calls on it.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';

export interface TracingOptions {
  readonly enabled: boolean;
  /** OTLP/HTTP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); spans go to `<endpoint>/v1/traces`. */
  readonly endpoint: string | undefined;
  readonly serviceName: string;
  readonly version: string;
}

type Carrier = Record<string, unknown>;

const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key];
    if (Array.isArray(v)) return v.map(String);
    return v === undefined || v === null ? undefined : String(v);
  },
};

interface Propagator {
  inject(context: Context, carrier: Carrier, setter: { set(c: Carrier, k: string, v: string): void }): void;
  extract(context: Context, carrier: Carrier, getter: TextMapGetter<Carrier>): Context;
}

export class Tracing {
  private constructor(
    readonly enabled: boolean,
    private readonly tracer: Tracer | undefined,
    private readonly propagator: Propagator | undefined,
    private readonly shutdownFn: () => Promise<void>,
  ) {}

  /** Tracing off: no SDK loaded, every call a no-op. */
  static readonly off = new Tracing(false, undefined, undefined, async () => {});

  /** Loads the SDK only when tracing is on. */
  static async create(options: TracingOptions): Promise<Tracing> {
    if (!options.enabled && !options.endpoint) return Tracing.off;
    const [
      { BasicTracerProvider, BatchSpanProcessor, NoopSpanProcessor },
      { W3CTraceContextPropagator },
      { resourceFromAttributes },
    ] = await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
    ]);
    let processor;
    if (options.endpoint) {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      const url = `${options.endpoint.replace(/\/+$/, '')}/v1/traces`;
      processor = new BatchSpanProcessor(new OTLPTraceExporter({ url }));
    } else {
      processor = new NoopSpanProcessor();
    }
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        'service.name': options.serviceName,
        'service.version': options.version,
      }),
      spanProcessors: [processor],
    });
    return new Tracing(
      true,
      provider.getTracer('agentd', options.version),
      new W3CTraceContextPropagator(),
      () => provider.shutdown(),
    );
  }

  /** The trace context a caller sent (`traceparent` / `tracestate` in headers or gRPC metadata). */
  extract(carrier: Carrier): Context {
    return this.propagator ? this.propagator.extract(ROOT_CONTEXT, carrier, getter) : ROOT_CONTEXT;
  }

  /** Adds `traceparent` (and `tracestate`) for `ctx` to outgoing headers. */
  inject(ctx: Context | undefined, headers: Record<string, string>): void {
    this.propagator?.inject(ctx ?? ROOT_CONTEXT, headers, {
      set: (c, k, v) => {
        c[k] = v;
      },
    });
  }

  /** Starts a span of `kind` under `parent`; returns it and the context it makes current. */
  start(
    name: string,
    kind: SpanKind,
    parent: Context | undefined,
    attributes: Attributes,
  ): { span: Span; context: Context } | undefined {
    if (!this.tracer) return undefined;
    const span = this.tracer.startSpan(name, { kind, attributes }, parent ?? ROOT_CONTEXT);
    return { span, context: trace.setSpan(parent ?? ROOT_CONTEXT, span) };
  }

  /** Ends a span, marking it failed with `error` (a catalogue code or message) when given. */
  static end(started: { span: Span } | undefined, error?: string): void {
    if (!started) return;
    if (error) started.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    started.span.end();
  }

  /** Flushes and stops the exporter. */
  shutdown(): Promise<void> {
    return this.shutdownFn();
  }
}

/** `trace_id` / `span_id` of a context's span, for log lines (none when not traced). */
export function traceFields(ctx: Context | undefined): { trace_id?: string; span_id?: string } {
  const sc = ctx ? trace.getSpanContext(ctx) : undefined;
  return sc && sc.traceFlags !== undefined && sc.traceId !== '00000000000000000000000000000000'
    ? { trace_id: sc.traceId, span_id: sc.spanId }
    : {};
}

export { SpanKind };
