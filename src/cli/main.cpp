#include <cstdio>

int main() {
  std::puts("oncemq");
  return 0;
}
