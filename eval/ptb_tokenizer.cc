#include "eval/ptb_tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace drivelm::eval {
namespace {

using Text = std::u32string;
// Every position at which a match that starts at the given position can end.
using Ends = std::vector<size_t>;
// A pattern appends the end positions of its matches starting at `pos` to `out`. Patterns are
// built from the combinators below, so each JFlex macro reads like its definition in
// PTBLexer.flex. JFlex's %caseless applies to literal strings, not to character classes: Lit is
// caseless, classes are exact (as in the .flex file, where e.g. [A]bout only takes a capital A).
using Pat = std::function<void(const Text&, size_t, Ends*)>;

void SortUnique(Ends* ends) {
  std::sort(ends->begin(), ends->end());
  ends->erase(std::unique(ends->begin(), ends->end()), ends->end());
}

// ---------------------------------------------------------------------------------------------
// UTF-8 <-> UTF-32.

Text DecodeUtf8(const std::string& s) {
  Text out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    bool ok = i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        ok = false;
      } else {
        cp = (cp << 6) | (cc & 0x3F);
      }
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(const Text& t) {
  std::string out;
  out.reserve(t.size());
  for (char32_t c : t) AppendUtf8(c, &out);
  return out;
}

Text U(const char* ascii) {
  Text t;
  for (const char* p = ascii; *p != '\0'; ++p) t.push_back(static_cast<unsigned char>(*p));
  return t;
}

// ---------------------------------------------------------------------------------------------
// Character classes. Java's Character.isLetter / isDigit are approximated outside ASCII (see the
// header).

bool IsAsciiUpper(char32_t c) { return c >= 'A' && c <= 'Z'; }
bool IsAsciiLower(char32_t c) { return c >= 'a' && c <= 'z'; }
bool IsAsciiAlpha(char32_t c) { return IsAsciiUpper(c) || IsAsciiLower(c); }
bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char32_t c) { return IsAsciiAlpha(c) || IsAsciiDigit(c); }

bool InRange(char32_t c, char32_t lo, char32_t hi) { return c >= lo && c <= hi; }

// [:letter:] (Java Character.isLetter), approximated beyond the scripts listed.
bool IsLetter(char32_t c) {
  if (c < 0x80) return IsAsciiAlpha(c);
  if (c == 0xAA || c == 0xB5 || c == 0xBA) return true;
  if (InRange(c, 0xC0, 0x24F)) return c != 0xD7 && c != 0xF7;
  if (InRange(c, 0x250, 0x2C1) || InRange(c, 0x2C6, 0x2D1) || InRange(c, 0x2E0, 0x2E4)) return true;
  if (c == 0x2EC || c == 0x2EE) return true;
  if (InRange(c, 0x370, 0x3FF)) {
    return !(c == 0x375 || c == 0x37E || c == 0x384 || c == 0x385 || c == 0x387 || c == 0x3F6 ||
             InRange(c, 0x378, 0x379) || InRange(c, 0x380, 0x383) || c == 0x38B || c == 0x38D ||
             c == 0x3A2);
  }
  if (InRange(c, 0x400, 0x52F)) return !InRange(c, 0x482, 0x489);
  if (InRange(c, 0x531, 0x556) || InRange(c, 0x561, 0x587)) return true;
  if (InRange(c, 0x5D0, 0x5EA) || InRange(c, 0x5F0, 0x5F2)) return true;
  if (InRange(c, 0x620, 0x64A) || InRange(c, 0x671, 0x6D3)) return true;
  if (InRange(c, 0x904, 0x939)) return true;
  if (InRange(c, 0xE01, 0xE30)) return true;
  if (InRange(c, 0x1E00, 0x1FBC)) return true;
  if (InRange(c, 0x3041, 0x3096) || InRange(c, 0x309D, 0x309F) || InRange(c, 0x30A1, 0x30FA) ||
      InRange(c, 0x30FC, 0x30FF)) {
    return true;
  }
  if (InRange(c, 0x3400, 0x4DBF) || InRange(c, 0x4E00, 0x9FFF) || InRange(c, 0xAC00, 0xD7A3) ||
      InRange(c, 0xF900, 0xFAFF)) {
    return true;
  }
  if (InRange(c, 0xFF21, 0xFF3A) || InRange(c, 0xFF41, 0xFF5A)) return true;
  return false;
}

// [:digit:] (Java Character.isDigit), approximated.
bool IsDigit(char32_t c) {
  return IsAsciiDigit(c) || InRange(c, 0x660, 0x669) || InRange(c, 0x6F0, 0x6F9) ||
         InRange(c, 0x7C0, 0x7C9) || InRange(c, 0x966, 0x96F) || InRange(c, 0x9E6, 0x9EF) ||
         InRange(c, 0xE50, 0xE59) || InRange(c, 0xFF10, 0xFF19);
}

bool IsUppercase(char32_t c) {
  if (c < 0x80) return IsAsciiUpper(c);
  if (InRange(c, 0xC0, 0xDE)) return c != 0xD7;
  if (InRange(c, 0x391, 0x3AB)) return c != 0x3A2;
  if (InRange(c, 0x400, 0x42F)) return true;
  if (InRange(c, 0x100, 0x17F)) {
    if (InRange(c, 0x139, 0x148) || InRange(c, 0x179, 0x17E)) return (c & 1) == 1;
    if (c == 0x178) return true;
    if (c == 0x138 || c == 0x149 || c == 0x17F) return false;
    return (c & 1) == 0;
  }
  if (InRange(c, 0xFF21, 0xFF3A)) return true;
  return false;
}

// Java's String.toLowerCase for one code point, approximated outside the ranges below. U+0130
// (capital I with dot) lowercases to two code points in Java; handled by the caller.
char32_t ToLower(char32_t c) {
  if (c < 0x80) return IsAsciiUpper(c) ? c + 32 : c;
  if (InRange(c, 0xC0, 0xDE) && c != 0xD7) return c + 32;
  if (InRange(c, 0x100, 0x17F)) {
    if (c == 0x178) return 0xFF;
    if (IsUppercase(c)) return c + 1;
    return c;
  }
  if (InRange(c, 0x391, 0x3AB) && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (InRange(c, 0x388, 0x38A)) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (InRange(c, 0x38E, 0x38F)) return c + 63;
  if (InRange(c, 0x410, 0x42F)) return c + 32;
  if (InRange(c, 0x400, 0x40F)) return c + 80;
  if (InRange(c, 0xFF21, 0xFF3A)) return c + 32;
  return c;
}

Text Lowercase(const Text& t) {
  Text out;
  out.reserve(t.size());
  for (char32_t c : t) {
    if (c == 0x130) {
      out.push_back('i');
      out.push_back(0x307);
    } else {
      out.push_back(ToLower(c));
    }
  }
  return out;
}

// SPACE = [ \t\u00A0\u2000-\u200A\u3000]
bool IsSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == 0xA0 || InRange(c, 0x2000, 0x200A) || c == 0x3000;
}
// One-character NEWLINE alternatives (\r\n is handled in the NEWLINE pattern). CoreNLP 3.4.1
// does not treat U+0085 as a line break (checked against the jar).
bool IsNewlineChar(char32_t c) {
  return c == '\r' || c == '\n' || c == 0x2028 || c == 0x2029 || c == 0x0B || c == 0x0C;
}
bool IsSpaceNl(char32_t c) { return IsSpace(c) || IsNewlineChar(c); }

// Extra characters the WORD macro accepts besides [:letter:] (soft hyphen, combining marks, ...).
bool IsWordExtra(char32_t c) {
  return c == 0xAD || InRange(c, 0x237, 0x24F) || InRange(c, 0x2C2, 0x2C5) ||
         InRange(c, 0x2D2, 0x2DF) || InRange(c, 0x2E5, 0x2FF) || InRange(c, 0x300, 0x36F) ||
         InRange(c, 0x370, 0x37D) || c == 0x384 || c == 0x385 || c == 0x3CF || c == 0x3F6 ||
         InRange(c, 0x3FC, 0x3FF) || InRange(c, 0x483, 0x487) || c == 0x4CF ||
         InRange(c, 0x4F6, 0x4FF) || InRange(c, 0x510, 0x525) || InRange(c, 0x55A, 0x55F) ||
         InRange(c, 0x591, 0x5BD) || c == 0x5BF || c == 0x5C1 || c == 0x5C2 || c == 0x5C4 ||
         c == 0x5C5 || c == 0x5C7 || InRange(c, 0x615, 0x61A) || InRange(c, 0x63B, 0x63F) ||
         InRange(c, 0x64B, 0x65E) || c == 0x670 || InRange(c, 0x6D6, 0x6EF) ||
         InRange(c, 0x6FA, 0x6FF) || InRange(c, 0x900, 0x903) || c == 0x93C ||
         InRange(c, 0x93E, 0x94E) || InRange(c, 0x951, 0x955) || InRange(c, 0x962, 0x963) ||
         InRange(c, 0xE30, 0xE3A) || InRange(c, 0xE47, 0xE4E);
}

bool IsMiscSymbol(char32_t c) {
  return c == 0xA6 || c == 0xA7 || c == 0xA8 || c == 0xA9 || c == 0xAC || c == 0xAE ||
         c == 0xAF || InRange(c, 0xB0, 0xBA) || c == 0xD7 || c == 0xF7 || c == 0x387 ||
         c == 0x5BE || c == 0x5C0 || c == 0x5C3 || c == 0x5C6 || c == 0x5F3 || c == 0x5F4 ||
         InRange(c, 0x600, 0x603) || InRange(c, 0x606, 0x60A) || c == 0x60C || c == 0x614 ||
         c == 0x61B || c == 0x61E || c == 0x66A || c == 0x66D || InRange(c, 0x703, 0x70D) ||
         InRange(c, 0x7F6, 0x7F8) || c == 0x964 || c == 0x965 || c == 0xE4F ||
         InRange(c, 0x2020, 0x2023) || InRange(c, 0x2032, 0x2038) || c == 0x2044 ||
         InRange(c, 0x207A, 0x207F) || InRange(c, 0x208A, 0x208E) || InRange(c, 0x2100, 0x214F) ||
         InRange(c, 0x2190, 0x23FF) || InRange(c, 0x2600, 0x26FF) || c == 0x3012 ||
         c == 0x30FB || InRange(c, 0xFF01, 0xFF0F) || InRange(c, 0xFF1A, 0xFF20) ||
         InRange(c, 0xFF3B, 0xFF40) || InRange(c, 0xFF5B, 0xFF65);
}

// ---------------------------------------------------------------------------------------------
// Pattern combinators.

Pat Cls(std::function<bool(char32_t)> pred) {
  return [pred](const Text& t, size_t p, Ends* out) {
    if (p < t.size() && pred(t[p])) out->push_back(p + 1);
  };
}

Pat Ch(char32_t c) {
  return [c](const Text& t, size_t p, Ends* out) {
    if (p < t.size() && t[p] == c) out->push_back(p + 1);
  };
}

// Any of the characters of an ASCII string, exactly.
Pat AnyOf(const char* chars) {
  const Text set = U(chars);
  return Cls([set](char32_t c) { return set.find(c) != Text::npos; });
}

char32_t FoldAscii(char32_t c) { return IsAsciiUpper(c) ? c + 32 : c; }

// A caseless literal (JFlex %caseless).
Pat Lit(const char* s) {
  const Text lit = U(s);
  return [lit](const Text& t, size_t p, Ends* out) {
    if (p + lit.size() > t.size()) return;
    for (size_t i = 0; i < lit.size(); ++i) {
      if (FoldAscii(t[p + i]) != FoldAscii(lit[i])) return;
    }
    out->push_back(p + lit.size());
  };
}

Pat Seq(std::vector<Pat> parts) {
  return [parts](const Text& t, size_t p, Ends* out) {
    Ends cur{p};
    for (const Pat& part : parts) {
      Ends next;
      for (size_t e : cur) part(t, e, &next);
      if (next.empty()) return;
      SortUnique(&next);
      cur.swap(next);
    }
    out->insert(out->end(), cur.begin(), cur.end());
  };
}

Pat Alt(std::vector<Pat> alts) {
  return [alts](const Text& t, size_t p, Ends* out) {
    for (const Pat& a : alts) a(t, p, out);
  };
}

// Repetition {min,max}; max < 0 means unbounded.
Pat Rep(Pat inner, int min, int max) {
  return [inner, min, max](const Text& t, size_t p, Ends* out) {
    Ends level{p};
    if (min == 0) out->push_back(p);
    if (max >= 0) {
      for (int i = 1; i <= max; ++i) {
        Ends next;
        for (size_t e : level) inner(t, e, &next);
        if (next.empty()) return;
        SortUnique(&next);
        level.swap(next);
        if (i >= min) out->insert(out->end(), level.begin(), level.end());
      }
      return;
    }
    for (int i = 1; i <= min; ++i) {
      Ends next;
      for (size_t e : level) inner(t, e, &next);
      if (next.empty()) return;
      SortUnique(&next);
      level.swap(next);
    }
    // Every position reachable from `level` by further repetitions ends a match.
    std::set<size_t> seen(level.begin(), level.end());
    if (min > 0) out->insert(out->end(), level.begin(), level.end());
    std::vector<size_t> stack(level.begin(), level.end());
    while (!stack.empty()) {
      const size_t e = stack.back();
      stack.pop_back();
      Ends next;
      inner(t, e, &next);
      for (size_t n : next) {
        if (n != e && seen.insert(n).second) {
          out->push_back(n);
          stack.push_back(n);
        }
      }
    }
  };
}

Pat Opt(Pat inner) { return Rep(std::move(inner), 0, 1); }
Pat Star(Pat inner) { return Rep(std::move(inner), 0, -1); }
Pat Plus(Pat inner) { return Rep(std::move(inner), 1, -1); }

// Alternation of caseless literals separated by '|'.
Pat Lits(const std::string& bar_separated) {
  std::vector<Pat> alts;
  size_t start = 0;
  while (start <= bar_separated.size()) {
    const size_t bar = bar_separated.find('|', start);
    const std::string word = bar_separated.substr(
        start, bar == std::string::npos ? std::string::npos : bar - start);
    alts.push_back(Lit(word.c_str()));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return Alt(std::move(alts));
}

// ---------------------------------------------------------------------------------------------
// The lexer.

enum class Action {
  kToken,            // the matched text, as is
  kAssimilation3,    // cannot, 'twas: return all but the last 3 chars, re-lex those
  kAssimilation2,    // 'tis, gonna, gotta, lemme, gimme, wanna: all but the last 2
  kSgml,             // spaces -> U+00A0
  kDash,             // "--"
  kAmp,              // &amp; -> &
  kRemoveSoftHyphens,
  kQuoteRight,       // handleQuotes(tok, probablyLeft=false)
  kQuoteLeft,        // handleQuotes(tok, probablyLeft=true)
  kFrac,             // spaces -> U+00A0
  kFrac2,            // normalizeFractions
  kCurrency,         // normalizeCurrency
  kAcronymSentenceEnd,  // processAcronym: "I." -> "I" + "."; "U.S." -> "U.S." + "."
  kDuplicatePeriod,  // return the token with its period and re-lex the period
  kPhone,            // spaces -> U+00A0, parentheses -> -LRB- -RRB-
  kParensInside,     // parentheses -> -LRB- -RRB- (smileys)
  kLessThan,         // "<"
  kGreaterThan,      // ">"
  kOpenBrace,        // -LCB-
  kCloseBrace,       // -RCB-
  kOpenBracket,      // -LSB-
  kCloseBracket,     // -RSB-
  kOpenParen,        // -LRB-
  kCloseParen,       // -RRB-
  kHyphens,          // 3-4 hyphens -> "--"
  kEllipsis,         // "..."
  kSkip,             // spaces, zero-width characters, &nbsp;, untokenizable characters
  kNewline,
};

struct Rule {
  Pat pattern;
  Pat trailing;  // JFlex trailing context r1/r2; empty when none
  Action action;
};

class PtbLexer {
 public:
  PtbLexer() { Build(); }

  // Lexes `text` into lines of (not yet lowercased) tokens.
  std::vector<std::vector<Text>> Lex(const Text& text) const {
    std::vector<std::vector<Text>> lines(1);
    size_t p = 0;
    while (p < text.size()) {
      size_t best_total = 0;
      size_t best_end = 0;
      const Rule* best = nullptr;
      for (const Rule& rule : rules_) {
        Ends ends;
        rule.pattern(text, p, &ends);
        if (ends.empty()) continue;
        size_t total = 0;
        size_t token_end = 0;
        if (!rule.trailing) {
          total = *std::max_element(ends.begin(), ends.end());
          token_end = total;
        } else {
          for (size_t e : ends) {
            Ends tails;
            rule.trailing(text, e, &tails);
            for (size_t f : tails) {
              if (f > total || (f == total && e > token_end)) {
                total = f;
                token_end = e;
              }
            }
          }
        }
        if (total <= p) continue;  // no rule matches the empty string
        if (total > best_total) {
          best_total = total;
          best_end = token_end;
          best = &rule;
        }
      }
      if (best == nullptr) {  // unreachable: the last rule takes any one character
        ++p;
        continue;
      }
      p = Apply(*best, text, p, best_end, &lines);
    }
    return lines;
  }

 private:
  // Runs a rule's action on text[p, end) and returns where lexing continues.
  static size_t Apply(const Rule& rule, const Text& text, size_t p, size_t end,
                      std::vector<std::vector<Text>>* lines) {
    const Text tok = text.substr(p, end - p);
    auto emit = [lines](Text t) { lines->back().push_back(std::move(t)); };
    switch (rule.action) {
      case Action::kToken:
        emit(tok);
        return end;
      case Action::kAssimilation3:
        emit(tok.substr(0, tok.size() - 3));
        return end - 3;
      case Action::kAssimilation2:
        emit(tok.substr(0, tok.size() - 2));
        return end - 2;
      case Action::kSgml:
      case Action::kFrac: {
        Text t = tok;
        for (char32_t& c : t) {
          if (c == ' ') c = 0xA0;
        }
        emit(t);
        return end;
      }
      case Action::kDash:
        emit(U("--"));
        return end;
      case Action::kAmp:
        emit(NormalizeAmp(tok));
        return end;
      case Action::kRemoveSoftHyphens: {
        Text t;
        for (char32_t c : tok) {
          if (c != 0xAD) t.push_back(c);
        }
        emit(t);
        return end;
      }
      case Action::kQuoteRight:
        emit(LatexQuotes(tok, /*probably_left=*/false));
        return end;
      case Action::kQuoteLeft:
        emit(LatexQuotes(tok, /*probably_left=*/true));
        return end;
      case Action::kFrac2:
        emit(NormalizeFractions(tok));
        return end;
      case Action::kCurrency:
        emit(NormalizeCurrency(tok));
        return end;
      case Action::kAcronymSentenceEnd:
        if (tok.size() == 2) {
          emit(tok.substr(0, 1));
        } else {
          emit(tok);
        }
        return end - 1;
      case Action::kDuplicatePeriod:
        emit(tok);
        return end - 1;
      case Action::kPhone: {
        Text t;
        for (char32_t c : tok) {
          if (c == ' ') {
            t.push_back(0xA0);
          } else if (c == '(') {
            t += U("-LRB-");
          } else if (c == ')') {
            t += U("-RRB-");
          } else {
            t.push_back(c);
          }
        }
        emit(t);
        return end;
      }
      case Action::kParensInside: {
        Text t;
        for (char32_t c : tok) {
          if (c == '(') {
            t += U("-LRB-");
          } else if (c == ')') {
            t += U("-RRB-");
          } else {
            t.push_back(c);
          }
        }
        emit(t);
        return end;
      }
      case Action::kLessThan:
        emit(U("<"));
        return end;
      case Action::kGreaterThan:
        emit(U(">"));
        return end;
      case Action::kOpenBrace:
        emit(U("-LCB-"));
        return end;
      case Action::kCloseBrace:
        emit(U("-RCB-"));
        return end;
      case Action::kOpenBracket:
        emit(U("-LSB-"));
        return end;
      case Action::kCloseBracket:
        emit(U("-RSB-"));
        return end;
      case Action::kOpenParen:
        emit(U("-LRB-"));
        return end;
      case Action::kCloseParen:
        emit(U("-RRB-"));
        return end;
      case Action::kHyphens:
        emit(tok.size() >= 3 && tok.size() <= 4 ? U("--") : tok);
        return end;
      case Action::kEllipsis:
        emit(U("..."));
        return end;
      case Action::kSkip:
        return end;
      case Action::kNewline:
        lines->emplace_back();
        return end;
    }
    return end;
  }

  static Text ReplaceAll(const Text& s, const Text& from, const Text& to, bool caseless) {
    Text out;
    size_t i = 0;
    while (i < s.size()) {
      bool match = i + from.size() <= s.size();
      for (size_t k = 0; match && k < from.size(); ++k) {
        match = caseless ? FoldAscii(s[i + k]) == FoldAscii(from[k]) : s[i + k] == from[k];
      }
      if (match && !from.empty()) {
        out += to;
        i += from.size();
      } else {
        out.push_back(s[i]);
        ++i;
      }
    }
    return out;
  }

  static Text NormalizeAmp(const Text& s) { return ReplaceAll(s, U("&amp;"), U("&"), true); }

  // PTBLexer.latexQuotes.
  static Text LatexQuotes(const Text& in, bool probably_left) {
    Text s = in;
    if (probably_left) {
      s = ReplaceAll(s, U("&apos;"), U("`"), false);
      s = ReplaceAll(s, U("'"), U("`"), false);
      s = ReplaceAll(s, U("\""), U("``"), false);
      s = ReplaceAll(s, U("&quot;"), U("``"), false);
    } else {
      s = ReplaceAll(s, U("&apos;"), U("'"), false);
      s = ReplaceAll(s, U("\""), U("''"), false);
      s = ReplaceAll(s, U("&quot;"), U("''"), false);
    }
    Text out;
    for (char32_t c : s) {
      if (c == 0x91 || c == 0x2018 || c == 0x201B || c == 0x2039) {
        out += U("`");
      } else if (c == 0x92 || c == 0x2019 || c == 0x203A) {
        out += U("'");
      } else if (c == 0x93 || c == 0x201C || c == 0xAB) {
        out += U("``");
      } else if (c == 0x94 || c == 0x201D || c == 0xBB) {
        out += U("''");
      } else {
        out.push_back(c);
      }
    }
    return out;
  }

  // PTBLexer.normalizeFractions (3.4.1 maps U+2153 twice and leaves U+2154 alone).
  static Text NormalizeFractions(const Text& in) {
    Text out;
    for (char32_t c : in) {
      if (c == 0xBC) {
        out += U("1/4");
      } else if (c == 0xBD) {
        out += U("1/2");
      } else if (c == 0xBE) {
        out += U("3/4");
      } else if (c == 0x2153) {
        out += U("1/3");
      } else {
        out.push_back(c);
      }
    }
    return out;
  }

  static Text NormalizeCurrency(const Text& in) {
    Text out;
    for (char32_t c : in) {
      if (c == 0xA2) {
        out += U("cents");
      } else if (c == 0xA3) {
        out += U("#");
      } else if (c == 0x80 || c == 0xA4 || c == 0x20A0 || c == 0x20AC) {
        out += U("$");
      } else {
        out.push_back(c);
      }
    }
    return out;
  }

  void Add(Pat pattern, Action action) { rules_.push_back({std::move(pattern), Pat(), action}); }
  void AddTrailing(Pat pattern, Pat trailing, Action action) {
    rules_.push_back({std::move(pattern), std::move(trailing), action});
  }

  void Build() {
    // --- Macros (names as in PTBLexer.flex). ---
    const Pat space = Cls(IsSpace);
    const Pat spaces = Plus(space);
    const Pat newline = Alt({Seq({Ch('\r'), Ch('\n')}), Cls(IsNewlineChar)});
    const Pat spacenl = Alt({space, newline});
    const Pat spacenls = Plus(spacenl);
    const Pat any = Cls([](char32_t) { return true; });  // [^]
    const Pat digit = Cls(IsDigit);
    const Pat ascii_digit = Cls(IsAsciiDigit);
    const Pat letter_class = Cls(IsLetter);  // [:letter:]
    const Pat alnum = Cls([](char32_t c) { return IsLetter(c) || IsDigit(c); });
    const Pat ascii_alpha = Cls(IsAsciiAlpha);
    const Pat ascii_alnum = Cls(IsAsciiAlnum);
    const Pat splet = Seq({Ch('&'), AnyOf("aeiouAEIOU"), Lits("acute|grave|uml"), Ch(';')});
    const Pat word_letter = Alt({Cls([](char32_t c) { return IsLetter(c) || IsWordExtra(c); }),
                                 splet});
    // WORD = {LETTER}({LETTER}|{DIGIT})*([.!?]{LETTER}({LETTER}|{DIGIT})*)*
    const Pat word_part = Seq({word_letter, Star(Alt({word_letter, digit}))});
    const Pat word = Seq({word_part, Star(Seq({AnyOf(".!?"), word_part}))});
    const Pat apos = Alt({Cls([](char32_t c) { return c == '\'' || c == 0x92 || c == 0x2019; }),
                          Lit("&apos;")});
    const Pat aposetc =
        Alt({apos, Cls([](char32_t c) { return c == '`' || c == 0x91 || c == 0x2018 ||
                                               c == 0x201B; })});
    const Pat redaux = Seq({apos, Alt({AnyOf("msdMSD"), Lits("re|ve|ll")})});
    const Pat sword = Seq({Star(Cls([](char32_t c) { return IsAsciiAlpha(c) || c == 0xAD; })),
                           Cls([](char32_t c) {
                             return IsAsciiAlpha(c) && c != 'n' && c != 'N';
                           }),
                           Star(Ch(0xAD))});
    const Pat sredaux = Seq({Lit("n"), aposetc, Lit("t")});
    const Pat vowel_y = AnyOf("aeiouyAEIOUY");
    const Pat apoword = Alt({
        Seq({apos, Lit("n"), Opt(apos)}),
        Seq({AnyOf("lLdDjJ"), apos}),
        Seq({Lit("Dunkin"), apos}),
        Seq({Lit("somethin"), apos}),
        Seq({Lit("ol"), apos}),
        Seq({apos, Lit("em")}),
        Seq({Cls([](char32_t c) {
               return (c >= 'A' && c <= 'H') || (c >= 'J' && c <= 'X') || c == 'Z' || c == 'n';
             }),
             aposetc, letter_class, letter_class, Star(letter_class)}),
        Seq({apos, Cls([](char32_t c) { return c >= '2' && c <= '9'; }), Ch('0'), Lit("s")}),
        Seq({apos, Lit("til"), Opt(Lit("l"))}),
        Seq({letter_class, Star(letter_class), vowel_y, aposetc,
             Cls([](char32_t c) {
               return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || IsAsciiUpper(c);
             }),
             Star(letter_class)}),
        Seq({apos, Lit("cause")}),
        Seq({Lit("cont'd"), Opt(Ch('.'))}),
        Lits("nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l"),
        Seq({Lit("O"), aposetc, Lit("o")}),
    });
    const Pat apoword2 = Seq({Lit("y"), apos});
    const Pat url_body = Cls([](char32_t c) {
      return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' ||
               c == '<' || c == '>' || c == '|' || c == '(' || c == ')' || c == '{' || c == '}');
    });
    const Pat path_body = Cls([](char32_t c) {
      return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' ||
               c == '<' || c == '>' || c == '|' || c == '(' || c == ')');
    });
    const Pat url_end = Cls([](char32_t c) {
      return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' ||
               c == '<' || c == '>' || c == '|' || c == '.' || c == '!' || c == '?' || c == '(' ||
               c == ')' || c == '{' || c == '}' || c == ',' || c == '-');
    });
    const Pat fullurl =
        Seq({Lit("http"), Opt(Lit("s")), Lit("://"), Plus(url_body), url_end});
    const Pat www_part = Cls([](char32_t c) {
      return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' ||
               c == '<' || c == '>' || c == '|' || c == '.' || c == '!' || c == '?' || c == '(' ||
               c == ')' || c == '{' || c == '}' || c == ',');
    });
    // [^ \t\n\f\r\"`'<>|.!?(){},-_$]: ",-_" is a range (U+002C..U+005F) in the .flex file.
    const Pat dom_part = Cls([](char32_t c) {
      return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' ||
               c == '`' || c == '\'' || c == '<' || c == '>' || c == '|' || c == '.' ||
               c == '!' || c == '?' || c == '(' || c == ')' || c == '{' || c == '}' ||
               InRange(c, 0x2C, 0x5F) || c == '$');
    });
    const Pat likelyurl = Seq({
        Alt({Seq({Lit("www."), Plus(Seq({Plus(www_part), Ch('.')})), Rep(ascii_alpha, 2, 4)}),
             Seq({Plus(Seq({Plus(dom_part), Ch('.')})), Lits("com|net|org|edu")})}),
        Opt(Seq({Ch('/'), Plus(path_body), url_end})),
    });
    const Pat email_local = Cls([](char32_t c) {
      return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' ||
               c == '<' || c == '>' || c == '|' || c == '(' || c == ')' || c == 0xA0 ||
               c == '{' || c == '}');
    });
    const Pat email_dom = Cls([](char32_t c) {
      return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' ||
               c == '<' || c == '>' || c == '|' || c == '(' || c == ')' || c == '{' || c == '}' ||
               c == '.' || c == 0xA0);
    });
    // The jar takes "e.g.@%;", "12:30~yes@:" and "a@[!" whole: the last part only stops at '.'.
    const Pat email_last = email_dom;
    // An optional <...> around the address, as the jar does ("<ego@mr", "a@nd>").
    const Pat email = Seq({Opt(Alt({Ch('<'), Lit("&lt;")})), ascii_alnum, Star(email_local),
                           Ch('@'), Star(Seq({Plus(email_dom), Ch('.')})), Plus(email_last),
                           Opt(Alt({Ch('>'), Lit("&gt;")}))});
    const Pat twitter = Alt({
        Seq({Ch('@'), Cls([](char32_t c) { return IsAsciiAlpha(c) || c == '_'; }),
             Star(Cls([](char32_t c) { return IsAsciiAlnum(c) || c == '_'; }))}),
        Seq({Ch('#'), Plus(word_letter)}),
    });
    const Pat date = Seq({Rep(digit, 1, 2), AnyOf("-/"), Rep(digit, 1, 2), AnyOf("-/"),
                          Rep(digit, 2, 4)});
    // NUM = {DIGIT}+|{DIGIT}*([.:,\u00AD\u066B\u066C]{DIGIT}+)+
    const Pat num_sep = Cls([](char32_t c) {
      return c == '.' || c == ':' || c == ',' || c == 0xAD || c == 0x66B || c == 0x66C;
    });
    const Pat num = Alt({Plus(digit), Seq({Star(digit), Plus(Seq({num_sep, Plus(digit)}))})});
    const Pat number = Seq({Opt(AnyOf("-+")), num});
    const Pat subsupnum = Seq({
        Opt(Cls([](char32_t c) {
          return c == 0x207A || c == 0x207B || c == 0x208A || c == 0x208B;
        })),
        Alt({Plus(Cls([](char32_t c) {
               return c == 0x2070 || c == 0xB9 || c == 0xB2 || c == 0xB3 ||
                      InRange(c, 0x2074, 0x2079);
             })),
             Plus(Cls([](char32_t c) { return InRange(c, 0x2080, 0x2089); }))}),
    });
    const Pat frac =
        Seq({Opt(Seq({Rep(digit, 1, 4), Cls([](char32_t c) {
                        return c == '-' || c == ' ' || c == 0xA0;
                      })})),
             Rep(digit, 1, 4), Alt({Seq({Opt(Ch('\\')), Ch('/')}), Ch(0x2044)}),
             Rep(digit, 1, 4)});
    const Pat frac2 = Cls([](char32_t c) {
      return c == 0xBC || c == 0xBD || c == 0xBE || InRange(c, 0x2153, 0x215E);
    });
    const Pat spamp = Lit("&amp;");
    const Pat tbspec = Alt({
        Seq({Ch('-'), Lits("RRB|LRB|RCB|LCB|RSB|LSB"), Ch('-')}),
        Lit("C.D.s"), Lit("pro-"), Lit("anti-"),
        Seq({Lit("S"), Alt({Ch('&'), spamp}), Lit("P-500")}),
        Seq({Lit("S"), Alt({Ch('&'), spamp}), Lit("Ls")}),
        Seq({Lit("Cap"), apos, Lit("n")}),
        Seq({Lit("c"), apos, Lit("est")}),
    });
    const Pat hyphen_alpha = Seq({Ch('-'), Plus(ascii_alpha)});
    const Pat thing3 = Seq({Plus(ascii_alnum), Rep(hyphen_alpha, 0, 2),
                            Rep(Seq({Opt(Ch('\\')), Ch('/'), Plus(ascii_alnum),
                                     Rep(hyphen_alpha, 0, 2)}),
                                1, 2)});
    const Pat dolsign = Alt({Seq({Star(Cls(IsAsciiUpper)), Ch('$')}), Ch('#')});
    const Pat dolsign2 = Cls([](char32_t c) {
      return c == 0xA2 || c == 0xA3 || c == 0xA4 || c == 0xA5 || c == 0x80 || c == 0x20A0 ||
             c == 0x20AC || c == 0x60B || c == 0xE3F || c == 0x20A4 || c == 0xFFE0 ||
             c == 0xFFE1 || c == 0xFFE5 || c == 0xFFE6;
    });
    // ACRO = [A-Za-z](\.[A-Za-z])*|(Canada|Sino|Korean|EU|Japan|non)-U\.S|U\.S\.-(U\.K|U\.S\.S\.R)
    const Pat acro = Alt({
        Seq({ascii_alpha, Star(Seq({Ch('.'), ascii_alpha}))}),
        Seq({Lits("Canada|Sino|Korean|EU|Japan|non"), Lit("-U.S")}),
        Seq({Lit("U.S.-"), Lits("U.K|U.S.S.R")}),
    });
    // The older ACRO (two letters at least), used inside HTHING.
    const Pat acro2 = Alt({
        Seq({ascii_alpha, Plus(Seq({Ch('.'), ascii_alpha}))}),
        Seq({Lits("Canada|Sino|Korean|EU|Japan|non"), Lit("-U.S")}),
        Seq({Lit("U.S.-"), Lits("U.K|U.S.S.R")}),
    });
    const Pat acronym = Seq({acro, Ch('.')});
    // SGML as the 3.4.1 jar accepts it (checked): tag names [A-Za-z][A-Za-z0-9_:.-]*, attributes
    // as names or name="quoted value", spaces only (no tabs), an optional closing slash; a
    // closing tag </name> takes no attributes.
    const Pat sgml_name = Seq({ascii_alpha, Star(Cls([](char32_t c) {
                                 return IsAsciiAlnum(c) || c == '_' || c == ':' || c == '.' ||
                                        c == '-';
                               }))});
    const Pat sp = Ch(' ');
    const Pat quoted = Alt({Seq({Ch('\''), Star(Cls([](char32_t c) {
                                   return c != '\r' && c != '\n' && c != '\'';
                                 })),
                                 Ch('\'')}),
                            Seq({Ch('"'), Star(Cls([](char32_t c) {
                                   return c != '\r' && c != '\n' && c != '"';
                                 })),
                                 Ch('"')})});
    const Pat sgml = Seq({
        Ch('<'),
        Alt({Seq({AnyOf("!?"), Cls([](char32_t c) { return IsAsciiAlpha(c) || c == '-'; }),
                  Star(Cls([](char32_t c) { return c != '>' && c != '\r' && c != '\n'; }))}),
             Seq({sgml_name,
                  Star(Alt({Seq({Plus(sp), sgml_name}),
                            Seq({Plus(sp), sgml_name, Star(sp), Ch('='), Star(sp), quoted})})),
                  Star(sp), Opt(Ch('/'))}),
             Seq({Ch('/'), sgml_name})}),
        Star(sp),
        Ch('>'),
    });
    const Pat uppercase = Cls(IsUppercase);
    const Pat sentend = Seq({spacenl, Alt({spacenl, uppercase, sgml})});
    const Pat abmonth = Lits("Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec");
    const Pat abdays = Lits("Mon|Tue|Tues|Wed|Thu|Thurs|Fri");
    const Pat abstate = Alt({
        Lits("Ala|Ariz|Calif|Colo|Conn|Ct|Dak|Fla|Ga|Ind|Kan|Kans|Ky|Md|Mich|Minn|Mo|Mont|Neb|"
             "Nev|Okla|Penn|Tenn|Va|Vt|Wis|Wisc|Wyo"),
        // Case-sensitive first letter ([A]z, [A]rk, [D]el, ...): they are common words.
        Seq({Ch('A'), Lit("z")}), Seq({Ch('A'), Lit("rk")}), Seq({Ch('D'), Lit("el")}),
        Seq({Ch('I'), Lit("ll")}), Seq({Ch('L'), Lit("a")}), Seq({Ch('M'), Lit("ass")}),
        Seq({Ch('M'), Lit("iss")}), Seq({Ch('O'), Lit("re")}), Seq({Ch('P'), Lit("a")}),
        Seq({Ch('T'), Lit("ex")}), Seq({Ch('W'), Lit("ash")}),
    });
    const Pat abcomp = Alt({
        Lits("Inc|Co|Cos|Corp|Ltd|Plc|Rt|Bancorp|Dept|Bhd|Assn|Univ|Intl|Sys"),
        Seq({Lit("P"), Opt(Lit("p")), Lit("t"), AnyOf("yeYE"), Opt(Lit("s"))}),
    });
    const Pat abnum = Lits("tel|est|ext|sq|ft");
    const Pat abptit = Alt({Lits("Jr|Sr|Bros|Esq"), Seq({Lits("Ed|Ph"), Lit(".D")})});
    const Pat abbrev1 = Seq({Alt({abmonth, abdays, abstate, abcomp, abnum, abptit,
                                  Lits("etc|al|seq|Bldg")}),
                             Ch('.')});
    const Pat abtitle = Alt({
        Lits("Mr|Mrs|Ms|Dr|Drs|Prof|Profs|Sen|Sens|Rep|Reps|Atty|Attys|Lt|Col|Gen|Messrs|Gov|"
             "Govs|Adm|Rev|Maj|Sgt|Cpl|Pvt|Capt|St|Ste|Ave|Pres|Lieut|Hon|Brig|Cmdr|Comdr|Pfc|"
             "Spc|Supt|Supts|Det|Mt|Ft|Adj|Adv|Asst|Assoc|Ens|Insp|Mlle|Mme|Msgr|Sfc"),
        Seq({Ch('M'), Lit("iss")}),
    });
    const Pat abcomp2 = Lits("Invt|Elec|Natl|Mfg|Mtg|Dept|Blvd|Rd|Ave");
    const Pat abbrev4 =
        Alt({ascii_alpha, abtitle, Lits("vs|Alex|Wm|Jos|Cie|a.k.a|cf|TREAS|Ph"), acro, abcomp2});
    const Pat abbrev2 = Seq({abbrev4, Ch('.')});
    // Only before a number ("No. 5", "Fig. 3"); checked against the jar.
    const Pat abbrev3 = Seq({Lits("no|nos|prop|ca|fig|figs|art|pp|op"), Ch('.')});
    // Words after which an acronym's period also ends the sentence (first letter case-sensitive).
    const Pat acronym_next = Alt({
        Seq({Ch('A'), Lits("bout|ccording|dditionally|fter|n||s|t")}),
        Seq({Ch('B'), Lit("ut")}),
        Seq({Ch('E'), Lit("arlier")}),
        Seq({Ch('H'), Lits("e|er|ere|owever")}),
        Seq({Ch('I'), Lits("f|n|t")}),
        Seq({Ch('L'), Lit("ast")}),
        Seq({Ch('M'), Lits("any|ore|r.|s.")}),
        Seq({Ch('N'), Lit("ow")}),
        Seq({Ch('O'), Lits("nce|ne|ther|ur")}),
        Seq({Ch('S'), Lits("he|ince|o|ome|uch")}),
        Seq({Ch('T'), Lits("hat|he|heir|hen|here|hese|hey|his")}),
        Seq({Ch('W'), Lits("e|hen|hile|hat")}),
        Seq({Ch('Y'), Lits("et|ou")}),
        sgml,
    });
    // PHONE: 2-5 digit groups separated by one space or hyphen, an optional (area code); or
    // dotted groups.
    const Pat phone_sep = Cls([](char32_t c) { return c == '-' || c == ' ' || c == 0xA0; });
    const Pat phone = Alt({
        Seq({Alt({Seq({Ch('('), Rep(ascii_digit, 2, 3), Ch(')'),
                       Opt(Cls([](char32_t c) { return c == ' ' || c == 0xA0; }))}),
                  Seq({Rep(Ch('+'), 0, 2), Opt(Seq({Rep(ascii_digit, 2, 4), phone_sep})),
                       Rep(ascii_digit, 2, 4), phone_sep})}),
             Rep(ascii_digit, 3, 4), Opt(phone_sep), Rep(ascii_digit, 3, 5)}),
        Seq({Opt(Seq({Rep(Ch('+'), 0, 2), Rep(ascii_digit, 2, 4), Ch('.')})),
             Rep(ascii_digit, 2, 4), Ch('.'), Rep(ascii_digit, 3, 4), Ch('.'),
             Rep(ascii_digit, 3, 5)}),
    });
    const Pat dblquot = Alt({Ch('"'), Lit("&quot;")});
    const Pat insentp = AnyOf(",;:");
    const Pat hyphen = Cls([](char32_t c) {
      return c == '-' || c == '_' || c == 0x58A || c == 0x2010 || c == 0x2011;
    });
    const Pat ldots = Alt({Rep(Ch('.'), 3, 5),
                           Seq({Rep(Seq({Ch('.'), Cls([](char32_t c) {
                                           return c == ' ' || c == 0xA0;
                                         })}),
                                    2, 4),
                                Ch('.')}),
                           Cls([](char32_t c) { return c == 0x85 || c == 0x2026; })});
    const Pat alnum_soft = Cls([](char32_t c) { return IsAsciiAlnum(c) || c == 0xAD; });
    const Pat hthing = Seq({
        ascii_alnum,
        Star(Cls([](char32_t c) { return IsAsciiAlnum(c) || c == '.' || c == ',' || c == 0xAD; })),
        Plus(Seq({Ch('-'), Alt({Plus(alnum_soft), Seq({acro2, Ch('.')})})})),
    });
    const Pat thing_apos_prefix = Seq({AnyOf("dDoOlL"), aposetc, alnum});
    const Pat thing = Seq({Opt(thing_apos_prefix), Plus(alnum),
                           Star(Seq({hyphen, Opt(thing_apos_prefix), Plus(alnum)}))});
    const Pat thinga = Seq({Plus(Cls(IsAsciiUpper)),
                            Plus(Seq({Alt({AnyOf("+&"), spamp}), Plus(Cls(IsAsciiUpper))}))});
    const Pat quotes = Alt({
        apos, Lit("''"),
        Rep(Cls([](char32_t c) {
              return c == '`' || c == 0x2018 || c == 0x2019 || c == 0x201A || c == 0x201B ||
                     c == 0x201C || c == 0x201D || c == 0x91 || c == 0x92 || c == 0x93 ||
                     c == 0x94 || c == 0x201E || c == 0x201F || c == 0x2039 || c == 0x203A ||
                     c == 0xAB || c == 0xBB;
            }),
            1, 2),
    });
    const Pat tbspec2 = Seq({apos, ascii_digit, ascii_digit});
    // FILENAME: "5t.h", "3.C" and "0.5.C" stay whole in the jar (extensions c, h, x, ...).
    const Pat filename_ext = Lits(
        "bat|bmp|bz2|c|class|cgi|cpp|dll|doc|docx|exe|gif|gz|h|htm|html|jar|java|jpeg|jpg|mov|"
        "mp3|pdf|php|pl|png|ppt|ps|py|sql|tar|txt|wav|x|xml|zip|3gp|wmv|wma|avi|flv|mp4|mpg");
    // Only letters, digits and dots before the extension, and a space, line break or [.?!,]
    // after it, in the jar ("3/RFx.h", "CAM_FRONTx.h", "20x.h'" are split).
    const Pat filename = Seq({Plus(alnum), Star(Seq({Ch('.'), Plus(alnum)})), Ch('.'),
                              filename_ext});
    const Pat prog_langs = Alt({Lit("c++"), Seq({Lits("c|f"), Ch('#')})});
    const Pat smiley = Seq({Opt(AnyOf("<>")), AnyOf(":;="), Opt(AnyOf("-o*'")),
                            AnyOf("()DPdpO\\{@|[]")});
    const Pat asian_eye = AnyOf("^x=~<>");
    const Pat asian_eye2 = AnyOf("-^x=~<>'");
    const Pat asian_smiley = Alt({
        // [\^x=~<>]\.\[\^x=~<>] in the .flex file: a class, then the literal text ".[^x=~<>]".
        Seq({asian_eye, Ch('.'), Lit("[^x=~<>]")}),
        Seq({asian_eye2, Ch('_'), asian_eye2}),
        Seq({Ch('('), asian_eye2, Opt(AnyOf("_.")), asian_eye2, Ch(')')}),
        Seq({Ch('('), AnyOf("^x=~<>'"), Ch('-'), AnyOf("^x=~<>'`"), Ch(')')}),
        Seq({Ch(0xAF), Ch('\\'), Ch('_'), Ch('('), Ch(0x30C4), Ch(')'), Ch('_'), Ch('/'),
             Ch(0xAF)}),
    });

    // --- Rules, in the order of the .flex file (earliest wins a tie in match length). ---
    Add(prog_langs, Action::kToken);
    Add(Lits("cannot|'twas"), Action::kAssimilation3);
    Add(Alt({Seq({apos, Lit("tis")}), Lits("gonna|gotta|lemme|gimme|wanna")}),
        Action::kAssimilation2);
    Add(sgml, Action::kSgml);
    Add(Alt({Seq({Ch('&'), Lits("MD|mdash|ndash"), Ch(';')}),
             Cls([](char32_t c) {
               return c == 0x96 || c == 0x97 || c == 0x2013 || c == 0x2014 || c == 0x2015;
             })}),
        Action::kDash);
    Add(spamp, Action::kAmp);
    Add(Seq({Ch('&'),
             Alt({Lits("HT|TL|UR|LR|QC|QL|QR|odq|cdq"), Seq({Ch('#'), Plus(ascii_digit)})}),
             Ch(';')}),
        Action::kToken);
    AddTrailing(word, redaux, Action::kRemoveSoftHyphens);
    AddTrailing(sword, sredaux, Action::kRemoveSoftHyphens);
    Add(word, Action::kRemoveSoftHyphens);
    Add(apoword, Action::kToken);
    AddTrailing(apoword2, letter_class, Action::kToken);
    Add(fullurl, Action::kToken);
    Add(likelyurl, Action::kToken);
    Add(email, Action::kToken);
    Add(twitter, Action::kToken);
    AddTrailing(redaux, Cls([](char32_t c) { return !IsAsciiAlpha(c); }), Action::kQuoteRight);
    Add(sredaux, Action::kQuoteRight);
    Add(date, Action::kToken);
    Add(number, Action::kRemoveSoftHyphens);
    Add(subsupnum, Action::kToken);
    Add(frac, Action::kFrac);
    Add(frac2, Action::kFrac2);
    Add(tbspec, Action::kAmp);
    Add(thing3, Action::kToken);
    Add(dolsign, Action::kToken);
    Add(dolsign2, Action::kCurrency);
    AddTrailing(acronym, Seq({spacenls, acronym_next, spacenl}), Action::kAcronymSentenceEnd);
    AddTrailing(abbrev3, Seq({Opt(spacenl), digit}), Action::kToken);
    AddTrailing(abbrev1, sentend, Action::kDuplicatePeriod);
    AddTrailing(abbrev1, Seq({any, any}), Action::kToken);
    Add(abbrev1, Action::kDuplicatePeriod);
    Add(abbrev2, Action::kToken);
    AddTrailing(abbrev4, space, Action::kToken);
    AddTrailing(acro, spacenl, Action::kToken);
    AddTrailing(tbspec2, spacenl, Action::kToken);
    AddTrailing(filename, Alt({spacenl, AnyOf(".?!,")}), Action::kToken);
    AddTrailing(Seq({word, Ch('.')}), insentp, Action::kRemoveSoftHyphens);
    Add(phone, Action::kPhone);
    AddTrailing(dblquot, Cls([](char32_t c) { return IsAsciiAlnum(c) || c == '$'; }),
                Action::kQuoteLeft);
    Add(dblquot, Action::kQuoteRight);
    Add(Cls([](char32_t c) {
          return c == '+' || c == '%' || c == '&' || c == 0x2030 || c == 0x2031 || c == '~' ||
                 c == '^' || c == '|' || c == '\\';
        }),
        Action::kToken);
    Add(Ch(0x7F), Action::kSkip);
    Add(Lits("<<|>>"), Action::kToken);
    Add(Alt({Ch('<'), Lit("&lt;")}), Action::kLessThan);
    Add(Alt({Ch('>'), Lit("&gt;")}), Action::kGreaterThan);
    AddTrailing(smiley, Cls([](char32_t c) { return !IsAsciiAlnum(c); }),
                Action::kParensInside);
    Add(asian_smiley, Action::kParensInside);
    Add(Ch('{'), Action::kOpenBrace);
    Add(Ch('}'), Action::kCloseBrace);
    Add(Ch('['), Action::kOpenBracket);
    Add(Ch(']'), Action::kCloseBracket);
    Add(Ch('('), Action::kOpenParen);
    Add(Ch(')'), Action::kCloseParen);
    Add(Plus(Ch('-')), Action::kHyphens);
    Add(ldots, Action::kEllipsis);
    Add(Alt({Plus(Ch('@')), Plus(Ch('#')), Plus(Ch('_'))}), Action::kToken);
    Add(Alt({Plus(Ch('*')), Rep(Seq({Ch('\\'), Ch('*')}), 1, 3)}), Action::kToken);
    Add(insentp, Action::kToken);
    Add(Plus(AnyOf("?!")), Action::kToken);
    Add(Cls([](char32_t c) {
          return c == '.' || c == 0xA1 || c == 0xBF || c == 0x37E || c == 0x589 || c == 0x61F ||
                 c == 0x6D4 || InRange(c, 0x700, 0x702) || c == 0x7FA;
        }),
        Action::kToken);
    Add(Ch('='), Action::kToken);
    Add(Ch('/'), Action::kToken);
    AddTrailing(Seq({hthing, Ch('.')}), insentp, Action::kRemoveSoftHyphens);
    Add(hthing, Action::kRemoveSoftHyphens);
    AddTrailing(Seq({thing, Ch('.')}), insentp, Action::kToken);
    Add(thing, Action::kToken);
    AddTrailing(Seq({thinga, Ch('.')}), insentp, Action::kAmp);
    Add(thinga, Action::kAmp);
    AddTrailing(Ch('\''),
                Seq({ascii_alpha, Cls([](char32_t c) {
                       return !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0);
                     })}),
                Action::kQuoteLeft);
    Add(redaux, Action::kQuoteRight);
    Add(quotes, Action::kQuoteRight);
    Add(Cls(IsMiscSymbol), Action::kToken);
    Add(Alt({Ch(0), spaces, Cls([](char32_t c) {
               return c == 0x200B || c == 0x200E || c == 0x200F || c == 0xFEFF;
             })}),
        Action::kSkip);
    Add(newline, Action::kNewline);
    Add(Lit("&nbsp;"), Action::kSkip);
    Add(any, Action::kSkip);  // untokenizable: dropped (CoreNLP's default "firstDelete")
  }

  std::vector<Rule> rules_;
};

const PtbLexer& Lexer() {
  static const PtbLexer* const lexer = new PtbLexer();
  return *lexer;
}

// Python's str.isspace() for one code point (what str.rstrip() strips).
bool IsPythonSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || InRange(c, 0x2000, 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<Text> RawLines(const Text& text) {
  std::vector<std::vector<Text>> lines = Lexer().Lex(text);
  std::vector<Text> out;
  out.reserve(lines.size());
  for (const std::vector<Text>& tokens : lines) {
    Text line;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) line.push_back(' ');
      line += Lowercase(tokens[i]);
    }
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace

const std::vector<std::string>& PtbPunctuations() {
  static const std::vector<std::string>* const kPunctuations = new std::vector<std::string>{
      "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-",
      "--", "...", ";"};
  return *kPunctuations;
}

std::vector<std::string> PtbTokenizeRawLines(const std::string& text) {
  std::vector<std::string> out;
  for (const Text& line : RawLines(DecodeUtf8(text))) out.push_back(EncodeUtf8(line));
  return out;
}

std::vector<std::string> PtbTokenizeCaptions(const std::vector<std::string>& captions) {
  // sentences = '\n'.join([c['caption'].replace('\n', ' ') for ...])
  std::string joined;
  for (size_t i = 0; i < captions.size(); ++i) {
    if (i > 0) joined.push_back('\n');
    for (char c : captions[i]) joined.push_back(c == '\n' ? ' ' : c);
  }
  const std::vector<Text> lines = RawLines(DecodeUtf8(joined));
  const std::vector<std::string>& punct = PtbPunctuations();
  std::vector<std::string> out;
  out.reserve(captions.size());
  // for k, line in zip(image_id, lines): a caption holding an extra line break shifts the rest.
  for (size_t i = 0; i < captions.size(); ++i) {
    if (i >= lines.size()) {  // cannot happen: each caption yields at least one line
      out.emplace_back();
      continue;
    }
    Text line = lines[i];
    while (!line.empty() && IsPythonSpace(line.back())) line.pop_back();  // line.rstrip()
    // ' '.join([w for w in line.split(' ') if w not in PUNCTUATIONS])
    std::string kept;
    bool first = true;
    size_t start = 0;
    while (true) {
      const size_t space = line.find(U' ', start);
      const std::string word = EncodeUtf8(
          line.substr(start, space == Text::npos ? Text::npos : space - start));
      if (std::find(punct.begin(), punct.end(), word) == punct.end()) {
        if (!first) kept.push_back(' ');
        kept += word;
        first = false;
      }
      if (space == Text::npos) break;
      start = space + 1;
    }
    out.push_back(std::move(kept));
  }
  return out;
}

}  // namespace drivelm::eval
