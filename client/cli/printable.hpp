#pragma once
// Text from elsewhere, made safe for a person's terminal. Pure: no I/O.
#include <string>
#include <string_view>

namespace mailbroker::cli {

// `text` from a server or a mail (subjects, names, addresses, folder and file names,
// reasons, bodies) made safe to print on a terminal for a person: anyone who mails you
// must not be able to drive your terminal with escape sequences. Kept: printable ASCII,
// well-formed UTF-8 above U+009F, TAB, and with `multiline` LF (a CR before LF is
// dropped). Replaced by a visible escape: C0 controls ("\x1b", "\x07", "\x0d", LF
// without `multiline`), DEL ("\x7f"), C1 controls U+0080..U+009F written in UTF-8
// ("\u009b"), and bytes that are not well-formed UTF-8 ("\xff"). JSON output does not
// use this: it stays exact.
std::string printable(std::string_view text, bool multiline = false);

}  // namespace mailbroker::cli
