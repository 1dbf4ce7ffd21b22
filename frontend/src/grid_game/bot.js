// The demo bot (?auto_move=<ms>, clamped by the server): walks towards the
// nearest coin, with an occasional random step so bots do not move in lockstep.
const DIRECTIONS = ["up", "down", "left", "right"];

export function botDirection(you, coins, random = Math.random) {
  if (!you) return null;
  if (!coins.length || random() < 0.15) return DIRECTIONS[Math.floor(random() * 4)];
  let best = coins[0];
  let bestDistance = Infinity;
  for (const coin of coins) {
    const d = Math.abs(coin.x - you.x) + Math.abs(coin.y - you.y);
    if (d < bestDistance) { best = coin; bestDistance = d; }
  }
  const dx = best.x - you.x;
  const dy = best.y - you.y;
  if (dx === 0 && dy === 0) return DIRECTIONS[Math.floor(random() * 4)];
  if (Math.abs(dx) >= Math.abs(dy)) return dx > 0 ? "right" : "left";
  return dy > 0 ? "down" : "up";
}
