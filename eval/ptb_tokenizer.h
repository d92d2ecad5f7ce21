// PtbTokenizeCaptions: the caption preprocessing of the COCO caption evaluation package
// (pycocoevalcap's PTBTokenizer, also vendored by the `language_evaluation` package that DriveLM's
// official challenge/evaluation.py calls), reproduced in C++ so scoring needs no Java.
//
// What pycocoevalcap does: it replaces '\n' inside each caption by ' ', joins all captions of one
// batch with '\n', runs Stanford CoreNLP 3.4.1's PTBTokenizer over the whole text
// (`-preserveLines -lowerCase`), splits the output at '\n', pairs output line i with caption i, and
// drops the tokens in a fixed punctuation list ('' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - --
// ... ;). We reproduce all of it, including two consequences of that design:
//   - the lexer looks across caption boundaries: "B." at the end of one caption followed by a
//     caption starting "The" is tokenized "b" + "." (dropped), followed by "the" it stays "b.";
//   - -lowerCase runs after the lexer, so "(" becomes "-LRB-" and then "-lrb-", which is NOT in
//     the punctuation list: parentheses and brackets survive as "-lrb-", "-rrb-", "-lsb-", ...;
//   - a caption holding another line break (\r, \u2028, \u2029, \v, \f) shifts every later
//     caption of the batch by one line, as in pycocoevalcap.
//
// The lexer is a transcription of CoreNLP's PTBLexer.flex rules (JFlex: longest match, trailing
// context counted in the match length, earliest rule on ties) as they behave in the 3.4.1 jar
// that pycocoevalcap ships, pinned down by running that jar: tools/eval/check_ptb_tokenizer.py
// compares the two. On the DriveLM corpus (every question and answer of the sample frames plus
// 800 generated DriveLM-style answers) and on 100,000+ random lines over printable ASCII mixed
// with DriveLM words, object tags, contractions, abbreviations, URLs, e-mail addresses, phone
// numbers and smileys, the outputs are identical. Known or possible differences from CoreNLP:
//   - Unicode: letters, digits, upper case and lowercasing outside ASCII, Latin-1, Latin
//     Extended-A, Greek, Cyrillic and CJK are approximated; characters above U+FFFF are dropped
//     (CoreNLP 3.4.1 drops them as unpaired surrogates). Only ASCII text was checked at scale.
//   - Rules reconstructed from their behaviour where the 3.4.1 source was not available
//     (abbreviation lists, the acronym-before-sentence-start word list, SGML tags, URLs, e-mail
//     addresses, file names, smileys): rare inputs outside the checked corpus may differ.
// None of these occur in DriveLM answers (ASCII English sentences, decimals, <c1,CAM,x,y> tags).
//
// Thread-safety: stateless; safe to call concurrently.
#ifndef DRIVELM_EVAL_PTB_TOKENIZER_H_
#define DRIVELM_EVAL_PTB_TOKENIZER_H_

#include <string>
#include <vector>

namespace drivelm::eval {

// The tokens pycocoevalcap drops after tokenization (its PUNCTUATIONS list).
const std::vector<std::string>& PtbPunctuations();

// Tokenizes one batch of captions as pycocoevalcap's PTBTokenizer.tokenize does for one dict:
// result[i] is the tokenized caption i, tokens joined by single spaces (lowercased, punctuation
// tokens removed; "" for an empty caption). Input is UTF-8; invalid bytes decode as U+FFFD.
// The batch matters (see above): tokenize all references of an evaluation in one call and all
// predictions in another, in the same order, as pycocoevalcap does.
std::vector<std::string> PtbTokenizeCaptions(const std::vector<std::string>& captions);

// The raw CoreNLP 3.4.1 output lines for `text` (tokens joined by ' ', lowercased, nothing
// removed), one string per line, as `java ... PTBTokenizer -preserveLines -lowerCase` prints
// them. For tests and tools/eval/check_ptb_tokenizer.py.
std::vector<std::string> PtbTokenizeRawLines(const std::string& text);

}  // namespace drivelm::eval

#endif  // DRIVELM_EVAL_PTB_TOKENIZER_H_
