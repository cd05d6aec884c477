// Unit tests of the channel that carries connections from the master to a
// worker, on a socketpair in the test process.
#include "descriptors.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace band::test {
namespace {

struct pipe_ends {
  unique_fd read;
  unique_fd write;
};

pipe_ends open_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

TEST(Handoff, DescriptorAndSequenceArrive) {
  auto channel = open_channel();
  auto pipe = open_pipe();
  ASSERT_EQ(send_connection(channel.master.get(), pipe.write.get(), 42), transfer::done);

  int received_fd = -1;
  std::uint64_t sequence = 0;
  ASSERT_EQ(receive_connection(channel.worker.get(), received_fd, sequence), transfer::done);
  const unique_fd received(received_fd);
  EXPECT_EQ(sequence, 42u);
  EXPECT_NE(received.get(), pipe.write.get());
  // A worker that exec()s must not pass the connection on.
  EXPECT_TRUE(::fcntl(received.get(), F_GETFD) & FD_CLOEXEC);

  // The received descriptor is the same pipe, not a copy of its contents.
  ASSERT_EQ(::write(received.get(), "x", 1), 1);
  char byte = 0;
  ASSERT_EQ(::read(pipe.read.get(), &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
}

TEST(Handoff, EmptyChannelWouldBlock) {
  auto channel = open_channel();
  int received_fd = -1;
  std::uint64_t sequence = 0;
  EXPECT_EQ(receive_connection(channel.worker.get(), received_fd, sequence), transfer::would_block);
  EXPECT_EQ(receive_ack(channel.master.get(), sequence), transfer::would_block);
}

TEST(Handoff, AckArrives) {
  auto channel = open_channel();
  ASSERT_EQ(send_ack(channel.worker.get(), 7), transfer::done);
  std::uint64_t acknowledged = 0;
  ASSERT_EQ(receive_ack(channel.master.get(), acknowledged), transfer::done);
  EXPECT_EQ(acknowledged, 7u);
}

TEST(Handoff, ClosedWorkerEnd) {
  auto channel = open_channel();
  auto pipe = open_pipe();
  channel.worker.reset();

  EXPECT_EQ(send_connection(channel.master.get(), pipe.write.get(), 1), transfer::closed);
  std::uint64_t acknowledged = 0;
  EXPECT_EQ(receive_ack(channel.master.get(), acknowledged), transfer::closed);
}

TEST(Handoff, ClosedMasterEnd) {
  auto channel = open_channel();
  channel.master.reset();

  EXPECT_EQ(send_ack(channel.worker.get(), 1), transfer::closed);
  int received_fd = -1;
  std::uint64_t sequence = 0;
  EXPECT_EQ(receive_connection(channel.worker.get(), received_fd, sequence), transfer::closed);
}

// A worker that stops reading fills its channel; the master must learn that
// rather than block.
TEST(Handoff, FullChannelWouldBlock) {
  auto channel = open_channel();
  auto pipe = open_pipe();
  constexpr int max_sends = 100'000;
  int sent = 0;
  transfer result = transfer::done;
  while (sent < max_sends && (result = send_connection(channel.master.get(), pipe.write.get(), 1)) == transfer::done) {
    ++sent;
  }
  EXPECT_EQ(result, transfer::would_block) << "after " << sent << " connections";
  EXPECT_GT(sent, 0);

  // One taken makes room for one more.
  int received_fd = -1;
  std::uint64_t sequence = 0;
  ASSERT_EQ(receive_connection(channel.worker.get(), received_fd, sequence), transfer::done);
  ::close(received_fd);
  EXPECT_EQ(send_connection(channel.master.get(), pipe.write.get(), 2), transfer::done);
}

TEST(Handoff, MessageWithoutDescriptorRejected) {
  auto channel = open_channel();
  const std::uint64_t sequence = 1;
  ASSERT_EQ(::send(channel.master.get(), &sequence, sizeof sequence, 0), static_cast<ssize_t>(sizeof sequence));

  int received_fd = -1;
  std::uint64_t received_sequence = 0;
  try {
    receive_connection(channel.worker.get(), received_fd, received_sequence);
    FAIL() << "a message without a descriptor was taken as a connection";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EPROTO) << error.what();
  }
}

}  // namespace
}  // namespace band::test
