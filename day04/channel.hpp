// A worker's channel: a SOCK_SEQPACKET socket pair between the master and
// one worker process, created before the fork. Messages are 16 bytes, a kind
// and a value; a connection message also carries the descriptor (SCM_RIGHTS).
//
//   master → worker  connection  value: sequence number, plus the descriptor
//   worker → master  ack         value: every connection up to this sequence is taken
//   worker → master  ready       the worker has finished starting and serves
//   worker → master  limit       value: requests served; the worker has reached its --max-requests share
#pragma once

#include <cstdint>

namespace band {

enum class message_kind : std::uint64_t { connection = 1, ack = 2, ready = 3, limit = 4 };

struct message {
  message_kind kind;
  std::uint64_t value;
};

// Creates the two ends of a worker's channel: [0] for the master, [1] for
// the worker. Both are non-blocking and close-on-exec. Throws std::system_error.
void make_channel(int (&ends)[2]);

enum class transfer { done, would_block, closed };

// Sends `message`, with `fd` attached when it is not -1. Throws
// std::system_error on errors other than a full channel (would_block) or a
// peer that is gone (closed).
transfer send_message(int channel_fd, const message& message, int fd = -1);

// Receives one message into `message` and `fd` (-1 when none came with it).
transfer receive_message(int channel_fd, message& message, int& fd);

}  // namespace band
