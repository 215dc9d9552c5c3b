// Lists and objects nested deeper than MAX_NESTING are refused wherever outside input is parsed:
// the parsers, the validators, JSON.stringify and String() recurse, and a deep enough value ends in
// a stack overflow. No runbook, inventory, plan or device output comes near the bound.
export const MAX_NESTING = 100;

type PathSegment = string | number;

/**
 * Whether `value` nests lists and objects deeper than MAX_NESTING, without recursion. With `shared`
 * (objects that may appear at several places, as YAML aliases make), an object is walked again only
 * when reached deeper than before: linear in the value (times MAX_NESTING at worst) even when
 * expanding the sharing would not be.
 */
export function exceedsNesting(value: unknown, shared: boolean): boolean {
  const deepest = shared ? new Map<object, number>() : undefined;
  const nodes: unknown[] = [value];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop();
    const depth = depths.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_NESTING) return true;
    if (deepest) {
      if ((deepest.get(node) ?? 0) >= depth) continue;
      deepest.set(node, depth);
    }
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (typeof child !== 'object' || child === null) continue;
      nodes.push(child);
      depths.push(depth + 1);
    }
  }
  return false;
}

/** The path to the first list or object nested deeper than MAX_NESTING (the root is at depth 1). */
export function findDeepPath(value: unknown): PathSegment[] | undefined {
  const deepest = new Map<object, number>();
  const stack: Array<{ node: unknown; path: PathSegment[] }> = [{ node: value, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (path.length >= MAX_NESTING) return path;
    if ((deepest.get(node) ?? -1) >= path.length) continue;
    deepest.set(node, path.length);
    const entries: Array<[PathSegment, unknown]> = Array.isArray(node) ? node.map((child, i) => [i, child]) : Object.entries(node);
    for (const [key, child] of entries) stack.push({ node: child, path: [...path, key] });
  }
  return undefined;
}
