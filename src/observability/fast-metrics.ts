/**
 * Counters and histograms for the per-request hot path, rendered in the Prometheus text
 * format at scrape time. prom-client validates and hashes the label values on every
 * `inc`/`observe`, even through a labelled child; here a series is looked up once by its
 * label values (a tree of maps, no key string built) and then updated in place.
 */

type Series<T> = { readonly values: readonly string[] } & T;

abstract class FastMetric<T> {
  private readonly root = new Map<string, unknown>();
  protected readonly series: Array<Series<T>> = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected abstract make(values: readonly string[]): Series<T>;

  /** The series for these label values (in `labelNames` order), created on first use. */
  protected lookup(values: readonly string[]): Series<T> {
    let level = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const v = values[i] as string;
      let next = level.get(v) as Map<string, unknown> | undefined;
      if (!next) level.set(v, (next = new Map()));
      level = next;
    }
    const leaf = values[last] ?? '';
    let s = level.get(leaf) as Series<T> | undefined;
    if (!s) {
      s = this.make(values);
      level.set(leaf, s);
      this.series.push(s);
    }
    return s;
  }

  protected labels(values: readonly string[], extra?: [string, string]): string {
    const pairs = this.labelNames.map((n, i) => `${n}="${escape(values[i] ?? '')}"`);
    if (extra) pairs.push(`${extra[0]}="${extra[1]}"`);
    return pairs.length > 0 ? `{${pairs.join(',')}}` : '';
  }

  protected header(type: string): string {
    return `# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${this.name} ${type}\n`;
  }

  abstract render(): string;
}

export class FastCounter extends FastMetric<{ value: number }> {
  /** The series to `inc` for these label values. */
  with(...values: string[]): { value: number } {
    return this.lookup(values);
  }

  inc(values: string[], by = 1): void {
    this.lookup(values).value += by;
  }

  protected make(values: readonly string[]): Series<{ value: number }> {
    return { values, value: 0 };
  }

  render(): string {
    let out = this.header('counter');
    for (const s of this.series) out += `${this.name}${this.labels(s.values)} ${s.value}\n`;
    return out;
  }
}

interface HistogramSeries {
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class FastHistogram extends FastMetric<HistogramSeries> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  observe(values: string[], value: number): void {
    const s = this.lookup(values);
    s.sum += value;
    s.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (value <= (b[i] as number)) {
        (s.counts as Float64Array)[i] = ((s.counts as Float64Array)[i] as number) + 1;
        return;
      }
    }
  }

  protected make(values: readonly string[]): Series<HistogramSeries> {
    return { values, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
  }

  render(): string {
    let out = this.header('histogram');
    for (const s of this.series) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += s.counts[i] as number;
        out += `${this.name}_bucket${this.labels(s.values, ['le', String(bound)])} ${cumulative}\n`;
      });
      out += `${this.name}_bucket${this.labels(s.values, ['le', '+Inf'])} ${s.count}\n`;
      out += `${this.name}_sum${this.labels(s.values)} ${s.sum}\n`;
      out += `${this.name}_count${this.labels(s.values)} ${s.count}\n`;
    }
    return out;
  }
}

function escape(value: string): string {
  // String(): a label value that is not a string (a bug elsewhere) must not fail every scrape.
  return String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
