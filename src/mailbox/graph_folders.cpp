#include "mailbox/graph_folders.hpp"

#include <algorithm>
#include <deque>

#include "mailbox/folder_paths.hpp"
#include "protocol/graph/responses.hpp"

namespace mailbroker::mailbox::graph_folders {
namespace {

// Folders one listing page asks for (Graph's default page is 10).
constexpr std::uint32_t folder_page_size = 250;

}  // namespace

awaitable<result<std::vector<graph::folder_entry>>> tree(session::connection_context& ctx, bool refresh) {
  auto& cached = ctx.graph->folder_tree();
  if (cached && !refresh) co_return *cached;
  const std::string& root = ctx.graph->mailbox_root();
  // The Inbox's id, to name it INBOX wherever it sits.
  auto inbox_reply = co_await ctx.graph->send(graph::get_folder(root, "inbox"), "folder inbox");
  if (!inbox_reply) co_return inbox_reply.err();
  auto inbox = graph::parse_folder(inbox_reply->body, inbox_reply->status);
  if (!inbox) co_return inbox.err();

  struct pending {
    std::string id;    // "" = the top of the mailbox
    std::string path;  // "" for the top
    std::size_t depth;
  };
  std::vector<graph::folder_entry> out;
  std::deque<pending> todo{{"", "", 0}};
  while (!todo.empty() && out.size() < max_folders) {
    const pending parent = std::move(todo.front());
    todo.pop_front();
    auto first = graph::list_folders(root, parent.id, folder_page_size);
    if (!first) co_return first.err();
    graph::request next = std::move(first.value());
    for (int pages = 0; pages < 1000 && out.size() < max_folders; ++pages) {
      // Built in a variable: a conditional expression inside a co_await operand is
      // miscompiled by g++ 12 (its temporary freed twice; STYLE.md).
      std::string what = "folder ";
      what += parent.path.empty() ? std::string("(top)") : parent.path;
      auto reply = co_await ctx.graph->send(next, std::move(what));
      if (!reply) co_return reply.err();
      auto page = graph::parse_folder_list(reply->body, reply->status);
      if (!page) co_return page.err();
      for (const auto& f : page->folders) {
        graph::folder_entry e;
        const std::string name = f.id == inbox->id ? std::string("INBOX") : f.display_name;
        e.path = parent.path.empty() ? name : parent.path + "/" + name;
        e.id = f.id;
        e.total = f.total_item_count;
        e.unread = f.unread_item_count;
        e.has_children = f.child_folder_count > 0;
        if (e.has_children && parent.depth + 1 < max_depth) todo.push_back({f.id, e.path, parent.depth + 1});
        out.push_back(std::move(e));
        if (out.size() >= max_folders) break;
      }
      if (page->next_link.empty()) break;
      auto link = ctx.graph->relative(page->next_link, "the next page of folders");
      if (!link) co_return link.err();
      next = graph::follow(std::move(link.value()));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  cached = out;
  co_return out;
}

awaitable<result<std::string>> resolve(session::connection_context& ctx, std::string path, std::string field) {
  if (folder_paths::is_inbox(path)) co_return std::string("inbox");
  path = folder_paths::canonical(std::move(path));
  for (bool refresh : {false, true}) {
    auto folders = co_await tree(ctx, refresh);
    if (!folders) co_return folders.err();
    for (const auto& f : folders.value()) {
      if (f.path == path) co_return f.id;
    }
  }
  co_return error{errc::not_found, field + " '" + path + "' does not exist in the mailbox (ListFolders shows its folders)"};
}

}  // namespace mailbroker::mailbox::graph_folders
