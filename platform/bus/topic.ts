// AMQP topic matching, as RabbitMQ does it: words split on `.`, `*` matches
// exactly one word, `#` matches zero or more words.

export function topicMatches(pattern: string, routingKey: string): boolean {
  return match(pattern.split('.'), 0, routingKey.split('.'), 0);
}

function match(p: string[], i: number, k: string[], j: number): boolean {
  while (i < p.length) {
    const word = p[i];
    if (word === '#') {
      // `#` absorbs 0..n words: try every split, shortest first.
      for (let skip = j; skip <= k.length; skip++) if (match(p, i + 1, k, skip)) return true;
      return false;
    }
    if (j >= k.length) return false;
    if (word !== '*' && word !== k[j]) return false;
    i++;
    j++;
  }
  return j === k.length;
}
