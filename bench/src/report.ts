/** Printing the results: the console table, the markdown section of docs/benchmarks.md, and the SVG chart. */

import { CONTENDERS, LABELS, type BenchName, type ContenderName } from './common.js';
import type { MachineInfo } from './machine.js';
import {
  BENCH_TITLES,
  BENCH_UNITS,
  evaluateTargets,
  findRow,
  medianRate,
  medianRounds,
  rates,
  type BenchResult,
  type ContenderResult,
  type RunConfig,
  type TargetOutcome,
} from './results.js';
import { formatRange, formatRate, formatRatio, formatShort } from './stats.js';

function describeBench(bench: BenchName, config: RunConfig): string {
  const how =
    `median of ${config.reps} run(s) of ${config.seconds} s, each after a ${config.warmup} s warm-up, each in a fresh process` +
    (config.pin !== undefined ? ` pinned to CPU ${config.pin}` : '');
  if (bench === 'p1') return `${BENCH_TITLES.p1}: ${BENCH_UNITS.p1} (one round trip = pipe A -> pipe B -> pipe A); ${how}`;
  return (
    `${BENCH_TITLES.p2}: ${BENCH_UNITS.p2}, every descriptor signalled once per round; ${config.fanin.toLocaleString('en-US')} eventfds ` +
    `(node:net: ${config.pairs.toLocaleString('en-US')} unix socket pairs); ${how}`
  );
}

/** How busy the machine was before the run, with a warning when other processes were taking CPU. */
export function describeLoad(machine: MachineInfo): string {
  const busy = Number.isFinite(machine.busyBefore) ? `${Math.round(machine.busyBefore * 100)}%` : 'unknown';
  const text = `CPU busy before the run: ${busy} of ${machine.nproc} CPUs, load average ${machine.loadBefore.toFixed(2)}`;
  return machine.busyBefore > 0.1 ? `${text} — WARNING: other processes were using the CPUs; expect lower and noisier numbers` : text;
}

function rowNote(row: ContenderResult, config: RunConfig): string {
  const parts: string[] = [];
  const s = row.samples[0];
  if (s?.fds !== undefined) parts.push(`${s.fds.toLocaleString('en-US')} fds`);
  const noisy = row.samples.filter((x) => (x.noise ?? 0) > config.maxNoise).length;
  if (row.redone > 0) parts.push(`${row.redone} run(s) redone for noise`);
  if (noisy > 0) parts.push(`${noisy} run(s) kept although other processes used > ${Math.round(config.maxNoise * 100)}% of the CPUs`);
  if (row.failures.length > 0 && row.samples.length > 0) parts.push(`${row.failures.length} run(s) failed: ${row.failures[0]}`);
  return parts.join('; ');
}

interface Cell {
  readonly label: string;
  readonly median: string;
  readonly range: string;
  readonly extra: string;
  readonly ratio: string;
  readonly note: string;
}

function cells(result: BenchResult, config: RunConfig): Cell[] {
  const fdloop = medianRate(findRow([result], result.bench, 'fdloop'));
  return result.rows.map((row) => {
    const m = medianRate(row);
    if (!Number.isFinite(m)) {
      const reason = row.unavailable ?? row.failures[0] ?? 'no result';
      return { label: LABELS[row.contender], median: 'unavailable', range: '', extra: '', ratio: '', note: reason };
    }
    return {
      label: LABELS[row.contender],
      median: formatRate(m),
      range: formatRange(rates(row)),
      extra: result.bench === 'p2' ? formatRate(medianRounds(row)) : '',
      ratio: row.contender === 'fdloop' ? '1.00×' : formatRatio(fdloop / m),
      note: rowNote(row, config),
    };
  });
}

function pad(s: string, width: number, right = false): string {
  return right ? s.padStart(width) : s.padEnd(width);
}

/** The console report: one table per benchmark, then the targets. */
export function textReport(results: readonly BenchResult[], config: RunConfig, machine: MachineInfo): string {
  const lines: string[] = [];
  lines.push(`fdloop benchmarks — ${machine.date}, Node ${machine.node}, ${machine.kernel}, ${machine.nproc} × ${machine.cpuModel}`);
  lines.push(`fdloop revision ${machine.revision}`);
  lines.push(`(${config.quick ? 'quick mode: few short runs, numbers are indicative only' : 'full mode'}; ${describeLoad(machine)})`);
  for (const result of results) {
    lines.push('');
    lines.push(describeBench(result.bench, config));
    const c = cells(result, config);
    const head: Cell = {
      label: 'contender',
      median: `median ${BENCH_UNITS[result.bench]}`,
      range: 'range (min–max)',
      extra: result.bench === 'p2' ? 'rounds/s' : '',
      ratio: 'fdloop ÷ this',
      note: 'notes',
    };
    const all = [head, ...c];
    const w = (k: keyof Cell): number => Math.max(...all.map((x) => x[k].length));
    const wl = w('label');
    const wm = w('median');
    const ws = w('range');
    const we = w('extra');
    const wr = w('ratio');
    for (const x of all) {
      const cols = [pad(x.label, wl), pad(x.median, wm, true), pad(x.range, ws, true)];
      if (result.bench === 'p2') cols.push(pad(x.extra, we, true));
      cols.push(pad(x.ratio, wr, true), x.note);
      lines.push(`  ${cols.join('  ')}`.trimEnd());
    }
    const io = result.rows.find((r) => r.contender === 'npm-epoll')?.samples[0]?.io;
    if (io !== undefined) lines.push(`  npm epoll I/O: ${io}`);
  }
  lines.push('');
  lines.push('Targets (fdloop median ÷ contender median)');
  for (const o of evaluateTargets(results)) lines.push(`  ${targetLine(o)}`);
  return lines.join('\n');
}

function targetName(o: TargetOutcome): string {
  return `${o.target.bench.toUpperCase()}: fdloop ≥ ${o.target.min}× ${LABELS[o.target.against]}`;
}

function targetLine(o: TargetOutcome): string {
  const verdict = o.verdict === 'pass' ? 'PASS' : o.verdict === 'miss' ? 'MISS' : 'N/A';
  const ratio = Number.isFinite(o.ratio) ? formatRatio(o.ratio) : 'n/a';
  return `${pad(targetName(o), 44)} got ${pad(ratio, 7, true)}  ${verdict}${o.reason !== undefined ? ` (${o.reason})` : ''}`;
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** The generated "Results" section of docs/benchmarks.md (between the markers). */
export function markdownResults(results: readonly BenchResult[], config: RunConfig, machine: MachineInfo, chartFile: string): string {
  const lines: string[] = [];
  lines.push(
    `Run of \`node bench/dist/run.js${config.quick ? ' --quick' : ''}${config.pin !== undefined ? ` --pin=${config.pin}` : ''} --write-docs\` on ${machine.date}: Node ${machine.node}, ` +
      `${machine.kernel}, ${machine.nproc} × ${machine.cpuModel} (nproc ${machine.nproc}), ${machine.memoryGiB} GiB, ` +
      `${machine.cc}, npm epoll ${machine.epollPackage}, fdloop revision ${machine.revision}. ${config.reps} run(s) of ${config.seconds} s per contender and ` +
      `benchmark, each after a ${config.warmup} s warm-up in a fresh process${config.pin !== undefined ? ` pinned to CPU ${config.pin} (\`--pin=${config.pin}\`)` : ' (not pinned: the scheduler places every thread)'}, contenders interleaved.`,
  );
  lines.push('');
  lines.push(`${describeLoad(machine)}.`);
  lines.push('');
  lines.push(
    'The machine has 2 shared ("noisy") cores: runs of the same contender can differ by several percent, and the ' +
      'range column shows by how much (slowest and fastest run). Compare ratios rather than absolute numbers.',
  );
  lines.push('');
  lines.push(`![P1 and P2 medians](${chartFile})`);
  for (const result of results) {
    lines.push('');
    lines.push(`### ${BENCH_TITLES[result.bench]} (${BENCH_UNITS[result.bench]})`);
    lines.push('');
    const p2 = result.bench === 'p2';
    lines.push(`| contender | median ${BENCH_UNITS[result.bench]} |${p2 ? ' rounds/s |' : ''} range (min–max) | fdloop ÷ this | notes |`);
    lines.push(`| --- | ---: |${p2 ? ' ---: |' : ''} ---: | ---: | --- |`);
    for (const x of cells(result, config)) {
      lines.push(`| ${x.label} | ${x.median} |${p2 ? ` ${x.extra} |` : ''} ${x.range} | ${x.ratio} | ${mdEscape(x.note)} |`);
    }
  }
  lines.push('');
  lines.push('### Targets');
  lines.push('');
  lines.push('| target | ratio | verdict |');
  lines.push('| --- | ---: | --- |');
  for (const o of evaluateTargets(results)) {
    const verdict = o.verdict === 'pass' ? '**pass**' : o.verdict === 'miss' ? '**miss**' : `n/a (${mdEscape(o.reason ?? '')})`;
    lines.push(`| ${targetName(o)} | ${Number.isFinite(o.ratio) ? formatRatio(o.ratio) : 'n/a'} | ${verdict} |`);
  }
  return lines.join('\n');
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLORS: Readonly<Record<ContenderName, string>> = {
  fdloop: '#2f6fdf',
  'npm-epoll': '#c98a2b',
  'node-net': '#4c9a5a',
  'c-epoll': '#7a7a7a',
};

/**
 * A horizontal bar chart of the medians, one panel per benchmark, linear scale, with the targets drawn as dashed
 * lines where fdloop's bar has to reach.
 */
export function svgChart(results: readonly BenchResult[], config: RunConfig, machine: MachineInfo): string {
  const width = 820;
  const labelW = 170;
  const valueW = 90;
  const barAreaW = width - labelW - valueW - 30;
  const barH = 22;
  const gap = 8;
  const panelHead = 30;
  const parts: string[] = [];
  let y = 40;
  parts.push(
    `<text x="16" y="24" font-size="15" font-weight="bold">${xmlEscape(`fdloop benchmarks — medians of ${config.reps} runs (higher is better)${config.pin !== undefined ? `, pinned to CPU ${config.pin}` : ''}`)}</text>`,
  );
  for (const result of results) {
    const rows = CONTENDERS.map((c) => result.rows.find((r) => r.contender === c)).filter((r): r is ContenderResult => r !== undefined);
    const max = Math.max(...rows.map((r) => medianRate(r)).filter(Number.isFinite), 1);
    parts.push(`<text x="16" y="${y + 18}" font-size="13" font-weight="bold">${xmlEscape(`${BENCH_TITLES[result.bench]} — ${BENCH_UNITS[result.bench]}`)}</text>`);
    y += panelHead;
    const top = y;
    // Target lines go under the bars' labels: inserted here, before them.
    const under = parts.length;
    for (const row of rows) {
      const m = medianRate(row);
      parts.push(`<text x="${labelW - 8}" y="${y + barH / 2 + 4}" font-size="12" text-anchor="end">${xmlEscape(LABELS[row.contender])}</text>`);
      if (Number.isFinite(m)) {
        const w = Math.max(1, (m / max) * barAreaW);
        parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[row.contender]}"/>`);
        parts.push(
          `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + barH / 2 + 4}" font-size="12" stroke="#ffffff" stroke-width="3" paint-order="stroke">${xmlEscape(formatShort(m))}</text>`,
        );
      } else {
        parts.push(`<text x="${labelW + 4}" y="${y + barH / 2 + 4}" font-size="12" fill="#a33">unavailable</text>`);
      }
      y += barH + gap;
    }
    // Targets: where fdloop's bar must reach, as dashed lines across the panel, explained in a legend below it.
    const bottom = y - gap + 4;
    for (const o of evaluateTargets(results).filter((t) => t.target.bench === result.bench)) {
      const other = medianRate(findRow(results, result.bench, o.target.against));
      if (!Number.isFinite(other)) continue;
      const need = other * o.target.min;
      const x = labelW + (need / max) * barAreaW;
      const color = o.verdict === 'pass' ? '#2a8a3a' : '#c0392b';
      if (x <= labelW + barAreaW + valueW) {
        parts.splice(under, 0, `<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${bottom}" stroke="${color}" stroke-dasharray="4 3" stroke-width="1.5"/>`);
      }
      y += 6;
      parts.push(`<line x1="${labelW}" y1="${y + 4}" x2="${labelW + 24}" y2="${y + 4}" stroke="${color}" stroke-dasharray="4 3" stroke-width="1.5"/>`);
      const ratio = Number.isFinite(o.ratio) ? formatRatio(o.ratio) : 'n/a';
      parts.push(
        `<text x="${labelW + 30}" y="${y + 8}" font-size="11" fill="${color}">${xmlEscape(`target: fdloop ≥ ${o.target.min}× ${shortLabel(o.target.against)} = ${formatShort(need)} — got ${ratio} (${o.verdict})`)}</text>`,
      );
      y += 10;
    }
    y += 14;
  }
  parts.push(
    `<text x="16" y="${y + 4}" font-size="10" fill="#555">${xmlEscape(`${machine.date} · Node ${machine.node} · ${machine.nproc} × ${machine.cpuModel} · linear scale · dashed lines: targets for fdloop`)}</text>`,
  );
  const height = y + 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function shortLabel(c: ContenderName): string {
  return c === 'c-epoll' ? 'C' : c === 'node-net' ? 'node:net' : c === 'npm-epoll' ? 'npm epoll' : c;
}

/**
 * The generated block of the docs page for a run: `results` for a normal run, `results-pinned` for a `--pin` run,
 * so both can live on the page and each is regenerated by its own kind of run.
 */
export function resultsKey(config: RunConfig): string {
  return config.pin === undefined ? 'results' : 'results-pinned';
}

/** Replace the generated block `key` of the docs page, or append it under `heading` if the page has none yet. */
export function replaceResults(doc: string, section: string, key: string, heading: string): string {
  const startMarker = `<!-- bench:${key}:start -->`;
  const endMarker = `<!-- bench:${key}:end -->`;
  const block = `${startMarker}\n<!-- Generated by \`node bench/dist/run.js --write-docs\`; edits here are overwritten. -->\n\n${section}\n\n${endMarker}`;
  const start = doc.indexOf(startMarker);
  const end = doc.indexOf(endMarker);
  if (start >= 0 && end > start) return doc.slice(0, start) + block + doc.slice(end + endMarker.length);
  return `${doc.trimEnd()}\n\n## ${heading}\n\n${block}\n`;
}
