/**
 * A one-line progress bar on a terminal (`backup x.db [#####-----] 52% 13.1 of 25.2 MB`),
 * redrawn at most ten times a second; nothing at all when the stream is not a TTY.
 */
export class Progress {
  private readonly out: NodeJS.WritableStream & { isTTY?: boolean }
  private readonly label: string
  private readonly total: number
  private drawnAt = 0
  private drawn = false

  constructor (out: NodeJS.WritableStream, label: string, total: number) {
    this.out = out
    this.label = label
    this.total = total
  }

  update (done: number): void {
    if (this.out.isTTY !== true) return
    const now = Date.now()
    if (now - this.drawnAt < 100 && done < this.total) return
    this.drawnAt = now
    const share = this.total === 0 ? 1 : Math.min(1, done / this.total)
    const width = 24
    const filled = Math.round(share * width)
    this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(share * 100)}% ${mb(done)} of ${mb(this.total)} MB`)
    this.drawn = true
  }

  /** Ends the line, if one was drawn. */
  finish (): void {
    if (this.drawn) this.out.write('\n')
  }
}

function mb (bytes: number): string {
  return (bytes / 1e6).toFixed(1)
}
