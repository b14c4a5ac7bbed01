// Turns on the model: a training step and a sampling run both use the model's GPU buffers, so
// they take turns instead of interleaving. The training loop asks for a turn per step; Generate
// asks for one and is served between two steps; whoever asked first goes first.

export class Turns {
  private last: Promise<unknown> = Promise.resolve();

  /** Runs `work` once every turn asked for before it has finished. */
  take<T>(work: () => Promise<T>): Promise<T> {
    const mine = this.last.then(() => work());
    this.last = mine.catch(() => undefined);
    return mine;
  }
}
