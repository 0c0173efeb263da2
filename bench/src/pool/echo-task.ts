/** The trivial task of the pool round-trip benchmark, for fdloop's pool (named export) and piscina (default). */
export function echo(value: number): number {
  return value;
}
export default echo;
