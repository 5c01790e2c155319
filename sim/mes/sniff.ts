// Recognises a 3D model by its content while it streams through, and counts
// its polygons, without holding more than a few bytes of it.
//   binary STL: 80-byte header, uint32 LE triangle count, size = 84 + 50 × count
//   ASCII STL:  starts with "solid", has "facet normal" lines (one per triangle)
//   OBJ:        text with "v " vertex and "f " face lines (one polygon per f line)
//   3MF:        a ZIP container (PK\x03\x04); its mesh is compressed XML, so
//               polygons are ESTIMATED as compressed bytes / 20 rather than unzipped.
import type { OrderModel } from '../../contracts/orders.ts';

export type ModelFormat = OrderModel['format'];

export interface SniffResult {
  format: ModelFormat;
  /** Exact for STL and OBJ, estimated for 3MF. */
  polygons: number;
}

/** Bytes of a line we look at to classify it (enough for indented "facet normal"). */
const LINE_PREFIX = 32;
const NUL = 0;
const NEWLINE = 10;

export class ModelSniffer {
  private head = Buffer.alloc(0);
  private bytes = 0;
  private text = true;
  private prefix = '';
  private classified = false;
  private vertices = 0;
  private faces = 0;
  private facets = 0;

  get size(): number {
    return this.bytes;
  }

  feed(chunk: Buffer): void {
    if (this.head.length < 84) this.head = Buffer.concat([this.head, chunk.subarray(0, 84 - this.head.length)]);
    this.bytes += chunk.length;
    if (!this.text) return;
    // Text formats never hold NUL bytes; binary files almost always do, which
    // lets us stop scanning them line by line.
    if (chunk.indexOf(NUL) !== -1) {
      this.text = false;
      return;
    }
    let pos = 0;
    while (pos < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, pos);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.classified) {
        const take = Math.min(end, pos + LINE_PREFIX - this.prefix.length);
        this.prefix += chunk.toString('latin1', pos, take);
        if (this.prefix.length >= LINE_PREFIX || newline !== -1) this.classifyLine();
      }
      if (newline === -1) break;
      pos = newline + 1;
      this.prefix = '';
      this.classified = false;
    }
  }

  private classifyLine(): void {
    this.classified = true;
    const line = this.prefix.trimStart();
    if (/^v[ \t]/.test(line)) this.vertices++;
    else if (/^f[ \t]/.test(line)) this.faces++;
    else if (/^facet[ \t]+normal/.test(line)) this.facets++;
  }

  /** The format and polygon count, or null when the content is none of ours. */
  finish(): SniffResult | null {
    if (!this.classified && this.prefix !== '') this.classifyLine();
    const head = this.head;
    if (head.length >= 84) {
      const triangles = head.readUInt32LE(80);
      // Checked first: binary STL headers often start with "solid" too.
      if (triangles > 0 && this.bytes === 84 + 50 * triangles) return { format: 'stl', polygons: triangles };
    }
    if (head.length >= 4 && head.readUInt32BE(0) === 0x504b0304) {
      return { format: '3mf', polygons: Math.max(1, Math.floor(this.bytes / 20)) };
    }
    if (!this.text) return null;
    if (/^\s*solid\b/.test(head.toString('latin1')) && this.facets > 0) return { format: 'stl', polygons: this.facets };
    if (this.vertices > 0 && this.faces > 0) return { format: 'obj', polygons: this.faces };
    return null;
  }
}
