// The room's message list on the page: items in id order (ChatState says
// where each goes), the scroll position kept where the reader is, and the
// "jump to the newest" button.
import { buildMessageItem, renderBody } from "./view.js";

const NEAR_BOTTOM_PX = 48;

export function createMessageList({ log, list, empty, jump, chat }) {
  const items = new Map(); // id -> {li, body}
  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM_PX;

  // Add a batch through the state; `stick`: "top" keeps the reader's place
  // while older messages go above, "bottom" scrolls to the newest.
  function add(batch, { stick } = {}) {
    const wasAtBottom = nearBottom();
    const heightBefore = log.scrollHeight;
    const topBefore = log.scrollTop;
    const { added, prepended } = chat.addMessages(batch);
    if (added.length === 0) return 0;
    for (const { message, beforeId } of added) {
      const item = buildMessageItem(message);
      renderBody(item.body, message.text, chat.trending);
      items.set(message.id, item);
      list.insertBefore(item.li, beforeId === null ? null : items.get(beforeId).li);
    }
    empty.hidden = chat.size > 0;
    if (stick === "top" || (prepended === added.length && !wasAtBottom)) {
      // Older messages went above: keep what the reader was looking at in place.
      log.scrollTop = topBefore + (log.scrollHeight - heightBefore);
    } else if (wasAtBottom || stick === "bottom") {
      log.scrollTop = log.scrollHeight;
      jump.hidden = true;
    } else {
      jump.hidden = false;
    }
    return added.length;
  }

  // `ids`: what the state removed.
  function remove(ids) {
    for (const id of ids) {
      items.get(id)?.li.remove();
      items.delete(id);
    }
    empty.hidden = chat.size > 0;
  }

  // The trending words changed: highlight them again in every message.
  function rehighlight() {
    for (const [id, item] of items) renderBody(item.body, chat.messages.get(id).text, chat.trending);
  }

  jump.addEventListener("click", () => {
    log.scrollTop = log.scrollHeight;
    jump.hidden = true;
  });
  log.addEventListener("scroll", () => {
    if (nearBottom()) jump.hidden = true;
  });

  return { add, remove, rehighlight };
}
