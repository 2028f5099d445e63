// Folder paths of item-id sessions (EWS, Graph): INBOX in any case, LIST patterns, regex filters.
#include <gtest/gtest.h>

#include "mailbox/folder_paths.hpp"

namespace mailbroker::mailbox::folder_paths {
namespace {

TEST(FolderPaths, InboxInAnyCaseIsTheInbox) {
  EXPECT_TRUE(is_inbox(""));
  EXPECT_TRUE(is_inbox("inbox"));
  EXPECT_TRUE(is_inbox("InBoX"));
  EXPECT_FALSE(is_inbox("Inbox2"));
  EXPECT_FALSE(is_inbox("Inbo"));
  EXPECT_EQ(canonical(""), "INBOX");
  EXPECT_EQ(canonical("inbox/Reports"), "INBOX/Reports");
  EXPECT_EQ(canonical("Archive/inbox"), "Archive/inbox");
  EXPECT_EQ(canonical("Inboxes/x"), "Inboxes/x");
}

TEST(FolderPaths, ListPatternsAndRegexFilter) {
  const std::vector<named_folder> all{{"Archive", true}, {"Archive/2026", false}, {"INBOX", true}, {"INBOX/Reports", false}};
  auto top = filter(all, "%", "");
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ(top->at(0).name, "Archive");
  EXPECT_EQ(top->at(0).attributes, std::vector<std::string>{"\\HasChildren"});
  auto under_inbox = filter(all, "INBOX/*", "");
  ASSERT_TRUE(under_inbox.ok());
  ASSERT_EQ(under_inbox->size(), 1u);
  EXPECT_EQ(under_inbox->at(0).delimiter, "/");
  auto by_regex = filter(all, "", "20[0-9]{2}$");
  ASSERT_TRUE(by_regex.ok());
  ASSERT_EQ(by_regex->size(), 1u);
  EXPECT_EQ(by_regex->at(0).name, "Archive/2026");

  auto bad = filter(all, "", "(");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  EXPECT_NE(bad.err().message.find("regex"), std::string::npos);
  EXPECT_FALSE(filter(all, "*%*%*%*%*%", "").ok()) << "more than 8 wildcards";
}

}  // namespace
}  // namespace mailbroker::mailbox::folder_paths
