// Minimal Prometheus text exposition: counters and one histogram per label set.
export const BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10];

export interface Series {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: { labels: Record<string, string>; value: number; suffix?: string }[];
}

export function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`,
  );
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function renderSeries(all: Series[]): string {
  const out: string[] = [];
  for (const s of all) {
    out.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
    for (const x of s.samples) out.push(`${s.name}${x.suffix ?? ''}${labelText(x.labels)} ${x.value}`);
  }
  return `${out.join('\n')}\n`;
}

export class Histogram {
  private readonly counts = BUCKETS.map(() => 0);
  private sum = 0;
  private count = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    this.count += 1;
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) this.counts[i] = (this.counts[i] ?? 0) + 1;
    });
  }

  samples(labels: Record<string, string>): Series['samples'] {
    return [
      ...BUCKETS.map((b, i) => ({
        labels: { ...labels, le: String(b) },
        value: this.counts[i] ?? 0,
        suffix: '_bucket',
      })),
      { labels: { ...labels, le: '+Inf' }, value: this.count, suffix: '_bucket' },
      { labels, value: this.sum, suffix: '_sum' },
      { labels, value: this.count, suffix: '_count' },
    ];
  }
}
