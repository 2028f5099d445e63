#include "mailbox/ews_folders.hpp"

#include <algorithm>
#include <map>

#include "common/text.hpp"
#include "mailbox/folder_paths.hpp"

namespace mailbroker::mailbox::ews_folders {
namespace {

ews::folder_ref distinguished(const session::connection_context& ctx, std::string name) {
  ews::folder_ref f;
  f.distinguished = std::move(name);
  f.mailbox_smtp = mailbox_of(ctx);
  return f;
}

}  // namespace

std::string mailbox_of(const session::connection_context& ctx) { return ctx.spec.ews ? ctx.spec.ews->mailbox : ""; }

awaitable<result<std::vector<ews::folder_entry>>> tree(session::connection_context& ctx, bool refresh) {
  auto& cached = ctx.ews->folder_tree();
  if (cached && !refresh) co_return *cached;
  const auto version = ctx.ews->version();
  // The Inbox's id, to name it INBOX wherever it sits.
  std::vector<ews::folder_ref> inbox_only{distinguished(ctx, "inbox")};
  auto inbox_reply = co_await ctx.ews->call(ews::get_folder(version, inbox_only));
  if (!inbox_reply) co_return inbox_reply.err();
  auto inbox = ews::parse_folders(inbox_reply.value());
  if (!inbox) co_return inbox.err();
  if (inbox->folders.empty()) co_return error{errc::internal, "EWS GetFolder(inbox) returned no folder"};
  if (!inbox->folders.front().status.ok()) co_return inbox->folders.front().status;
  const std::string inbox_id = inbox->folders.front().ref.id;

  std::vector<ews::ews_folder> all;
  for (std::uint32_t offset = 0; all.size() < max_folders;) {
    auto reply = co_await ctx.ews->call(
        ews::find_folder(version, distinguished(ctx, "msgfolderroot"), true, offset, ews::max_page_size));
    if (!reply) co_return reply.err();
    for (const auto& m : reply->messages) {
      if (auto e = ews::error_of(m, version); !e.ok()) co_return e;
    }
    auto page = ews::parse_folders(reply.value());
    if (!page) co_return page.err();
    for (auto& f : page->folders) all.push_back(std::move(f));
    if (page->includes_last_item || page->folders.empty() || page->next_offset <= offset) break;
    offset = page->next_offset;
  }
  std::map<std::string, const ews::ews_folder*> by_id;
  for (const auto& f : all) by_id[f.ref.id] = &f;
  std::vector<ews::folder_entry> out;
  for (const auto& f : all) {
    // Mail folders only: calendars, contacts, tasks and search folders hold no messages.
    if (f.kind != "Folder" || (!f.folder_class.empty() && f.folder_class.rfind("IPF.Note", 0) != 0)) continue;
    std::vector<const ews::ews_folder*> chain{&f};
    for (auto it = by_id.find(f.parent_id); it != by_id.end() && chain.size() < 64; it = by_id.find(it->second->parent_id)) {
      chain.push_back(it->second);
    }
    std::string path;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      if (!path.empty()) path += "/";
      path += (*it)->ref.id == inbox_id ? std::string("INBOX") : (*it)->display_name;
    }
    out.push_back({path, f.ref, f.total_count, f.unread_count, f.child_folder_count > 0});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  cached = out;
  co_return out;
}

awaitable<result<ews::folder_ref>> resolve(session::connection_context& ctx, std::string path, std::string field) {
  if (folder_paths::is_inbox(path)) co_return distinguished(ctx, "inbox");
  path = folder_paths::canonical(std::move(path));
  for (bool refresh : {false, true}) {
    auto folders = co_await tree(ctx, refresh);
    if (!folders) co_return folders.err();
    for (const auto& f : folders.value()) {
      if (f.path == path) co_return f.ref;
    }
  }
  co_return error{errc::not_found, field + " '" + path + "' does not exist in the mailbox (ListFolders shows its folders)"};
}

}  // namespace mailbroker::mailbox::ews_folders
