// Small valid 3D model files for upload tests.

/** A binary STL with `triangles` facets (84 + 50 × n bytes). */
export function binaryStl(triangles: number, seed = 1): Buffer {
  const buffer = Buffer.alloc(84 + 50 * triangles);
  buffer.write(`facet test model ${seed}`, 0, 'ascii');
  buffer.writeUInt32LE(triangles, 80);
  for (let i = 0; i < triangles; i++) {
    const at = 84 + 50 * i;
    for (let f = 0; f < 12; f++) buffer.writeFloatLE(((i * 12 + f) % 97) * 0.1 + seed, at + f * 4);
  }
  return buffer;
}

export function objModel(faces: number): string {
  const lines = ['# facet test', 'v 0 0 0', 'v 1 0 0', 'v 0 1 0'];
  for (let i = 0; i < faces; i++) lines.push('f 1 2 3');
  return `${lines.join('\n')}\n`;
}
