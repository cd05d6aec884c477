#include "handoff.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace band {

namespace {

transfer failed(const char* call) {
  if (errno == EAGAIN || errno == EWOULDBLOCK) return transfer::would_block;
  if (errno == EPIPE || errno == ECONNRESET) return transfer::closed;
  throw std::system_error(errno, std::generic_category(), call);
}

}  // namespace

void make_channel(int (&ends)[2]) {
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ends) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair for a worker channel");
  }
}

transfer send_connection(int channel_fd, int connection_fd, std::uint64_t sequence) {
  iovec payload{&sequence, sizeof sequence};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &payload;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &connection_fd, sizeof(int));

  // MSG_NOSIGNAL: a worker that died turns into EPIPE, not SIGPIPE.
  if (::sendmsg(channel_fd, &message, MSG_NOSIGNAL) >= 0) return transfer::done;
  return failed("sendmsg of a connection");
}

transfer receive_connection(int channel_fd, int& connection_fd, std::uint64_t& sequence) {
  iovec payload{&sequence, sizeof sequence};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &payload;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;

  const ssize_t count = ::recvmsg(channel_fd, &message, MSG_CMSG_CLOEXEC);
  if (count == 0) return transfer::closed;
  if (count < 0) return failed("recvmsg of a connection");

  const cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (count != sizeof sequence || header == nullptr || header->cmsg_type != SCM_RIGHTS ||
      header->cmsg_len != CMSG_LEN(sizeof(int))) {
    throw std::system_error(EPROTO, std::generic_category(), "recvmsg of a connection: malformed message");
  }
  std::memcpy(&connection_fd, CMSG_DATA(header), sizeof(int));
  return transfer::done;
}

transfer send_ack(int channel_fd, std::uint64_t sequence) {
  if (::send(channel_fd, &sequence, sizeof sequence, MSG_NOSIGNAL) >= 0) return transfer::done;
  return failed("send of an acknowledgement");
}

transfer receive_ack(int channel_fd, std::uint64_t& sequence) {
  const ssize_t count = ::recv(channel_fd, &sequence, sizeof sequence, 0);
  if (count == 0) return transfer::closed;
  if (count < 0) return failed("recv of an acknowledgement");
  if (count != sizeof sequence) {
    throw std::system_error(EPROTO, std::generic_category(), "recv of an acknowledgement: malformed message");
  }
  return transfer::done;
}

}  // namespace band
