// Regions placed after the worlds at run time (policy weights, experience, scratch): a bump
// allocator over linear memory. configure() resets it; nothing is ever freed (regions that grow
// move to a fresh end and the old bytes are abandoned, so growth costs at most 2x).
let top: usize = 0;

export function heapReset(end: usize): void {
  top = (end + 15) & ~15;
}

export function heapTop(): usize {
  return top;
}

export function heapAlloc(bytes: usize): usize {
  const at = top;
  top = (top + bytes + 15) & ~15;
  const need = <i32>((top + 0xffff) >> 16);
  const have = memory.size();
  if (need > have && memory.grow(need - have) < 0) unreachable();
  return at;
}
