// ptb_tokenize: prints what CoreNLP 3.4.1's `PTBTokenizer -preserveLines -lowerCase` prints for
// the UTF-8 text on standard input, using eval/ptb_tokenizer (tools/eval/check_ptb_tokenizer.py
// compares the two on a corpus). With --captions, reads one caption per line and prints the
// pycocoevalcap-tokenized captions instead (punctuation removed), one per line.
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "eval/ptb_tokenizer.h"

int main(int argc, char** argv) {
  const bool captions = argc > 1 && std::strcmp(argv[1], "--captions") == 0;
  const std::string text((std::istreambuf_iterator<char>(std::cin)),
                         std::istreambuf_iterator<char>());
  if (captions) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
      const size_t nl = text.find('\n', start);
      if (nl == std::string::npos) {
        if (start < text.size()) lines.push_back(text.substr(start));
        break;
      }
      lines.push_back(text.substr(start, nl - start));
      start = nl + 1;
    }
    for (const std::string& c : drivelm::eval::PtbTokenizeCaptions(lines)) std::cout << c << "\n";
    return 0;
  }
  const std::vector<std::string> lines = drivelm::eval::PtbTokenizeRawLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) std::cout << "\n";
    std::cout << lines[i];
  }
  return 0;
}
