/**
 * The candidate an unknown key was probably meant to be: the same key in snake_case, a key
 * named by `aliases` (e.g. a core option name), or the nearest by edit distance.
 */
export function suggest(
  input: string,
  candidates: readonly string[],
  aliases: ReadonlyMap<string, string> = new Map(),
): string | undefined {
  const normalised = input
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[-\s]+/g, '_')
    .toLowerCase();
  if (candidates.includes(normalised)) return normalised;
  const aliased = aliases.get(input) ?? aliases.get(normalised);
  if (aliased !== undefined && candidates.includes(aliased)) return aliased;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(normalised, candidate);
    const related = normalised.length >= 4 && (candidate.startsWith(normalised) || normalised.startsWith(candidate));
    const limit = Math.max(2, Math.floor(candidate.length / 3));
    if ((distance <= limit || related) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
