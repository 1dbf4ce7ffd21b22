// Grid game pages: the arena list (/game/) and an arena (/game/<slug>/).
import { startArena } from "./grid_game/arena.js";
import { startList } from "./grid_game/list.js";

if (document.getElementById("game-config")) startArena();
else startList();
