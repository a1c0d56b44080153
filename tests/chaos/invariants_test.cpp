// Each chaos invariant catches the break it names: given what a broken system would show, the check reports
// it (and given what a sound one shows, nothing).
#include "chaos/invariants.h"

#include <gtest/gtest.h>

namespace oncemq::chaos_test {
namespace {

TEST(ChaosInvariants, AnAckedMessageMissingFromTheLogIsReported) {
  const LogRead log = {{{0, 0}, "a"}, {{0, 1}, "b"}};
  EXPECT_TRUE(AckedAreDelivered({{"a", 0, 0}, {"b", 0, 1}}, log).empty());
  EXPECT_EQ(AckedAreDelivered({{"a", 0, 0}, {"c", 0, 2}}, log).size(), 1u) << "lost after its ack";
  EXPECT_EQ(AckedAreDelivered({{"b", 0, 0}}, log).size(), 1u) << "the ack named another message's offset";
  EXPECT_TRUE(AckedAreDelivered({{"a", 0, 7}}, log).empty()) << "a dropped duplicate's empty slot";
}

TEST(ChaosInvariants, AnOffsetThatChangedItsMessageBetweenReadsIsReported) {
  const LogRead before = {{{0, 0}, "a"}, {{0, 1}, "b"}};
  const LogRead grown = {{{0, 0}, "a"}, {{0, 1}, "b"}, {{0, 2}, "c"}};
  const LogRead rewritten = {{{0, 0}, "a"}, {{0, 1}, "x"}};
  EXPECT_TRUE(NoOffsetHoldsTwo({before, grown}).empty());
  EXPECT_EQ(NoOffsetHoldsTwo({before, grown, rewritten}).size(), 1u);
}

TEST(ChaosInvariants, ACommitPastAnUnprocessedMessageIsReported) {
  const LogRead log = {{{0, 0}, "a"}, {{0, 1}, "b"}, {{0, 2}, "c"}, {{1, 0}, "d"}};
  EXPECT_TRUE(CommitsSkipNothing({{0, 0}, {0, 1}}, {{0, 2}}, log).empty()) << "c is past the commit";
  EXPECT_EQ(CommitsSkipNothing({{0, 0}}, {{0, 2}}, log).size(), 1u) << "b was skipped";
  EXPECT_TRUE(CommitsSkipNothing({}, {}, log).empty()) << "nothing committed, nothing skipped";
}

TEST(ChaosInvariants, MissingDoubledAndStrayEffectsAreReported) {
  EXPECT_TRUE(EffectsOnce({{"k1", 1}, {"k2", 1}}, {"k1", "k2"}).empty());
  EXPECT_EQ(EffectsOnce({{"k1", 2}, {"k2", 1}}, {"k1", "k2"}).size(), 1u) << "doubled";
  EXPECT_EQ(EffectsOnce({{"k1", 1}}, {"k1", "k2"}).size(), 1u) << "missing";
  EXPECT_EQ(EffectsOnce({{"k1", 1}, {"k2", 1}, {"k9", 1}}, {"k1", "k2"}).size(), 1u) << "stray";
}

}  // namespace
}  // namespace oncemq::chaos_test
