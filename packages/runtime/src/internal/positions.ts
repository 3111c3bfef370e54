import type { PulsarPosition } from "@pulsar-connect/core/host";

/** Orders two positions of the same topic: negative when `a` comes first. */
export function comparePositions(a: PulsarPosition, b: PulsarPosition): number {
  if (a.ledgerId !== b.ledgerId) return a.ledgerId < b.ledgerId ? -1 : 1;
  if (a.entryId !== b.entryId) return a.entryId < b.entryId ? -1 : 1;
  return a.batchIndex - b.batchIndex;
}

/** Latest stored position per topic; answers whether a redelivered message was already written. */
export class PositionIndex {
  private readonly byTopic = new Map<string, PulsarPosition>();

  constructor(positions: Iterable<PulsarPosition> = []) {
    for (const position of positions) this.advance(position);
  }

  /** True when `position` is at or before the stored position of its topic. */
  covers(position: PulsarPosition): boolean {
    const stored = this.byTopic.get(position.topic);
    return stored !== undefined && comparePositions(position, stored) <= 0;
  }

  advance(position: PulsarPosition): void {
    const stored = this.byTopic.get(position.topic);
    if (!stored || comparePositions(position, stored) > 0) this.byTopic.set(position.topic, position);
  }

  get size(): number {
    return this.byTopic.size;
  }
}
