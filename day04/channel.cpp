#include "channel.hpp"

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

transfer send_message(int channel_fd, const message& message, int fd) {
  iovec payload{const_cast<band::message*>(&message), sizeof message};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
  header.msg_iov = &payload;
  header.msg_iovlen = 1;
  if (fd >= 0) {
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(rights), &fd, sizeof(int));
  }
  // MSG_NOSIGNAL: a peer that is gone turns into EPIPE, not SIGPIPE.
  if (::sendmsg(channel_fd, &header, MSG_NOSIGNAL) >= 0) return transfer::done;
  return failed("sendmsg on a worker channel");
}

transfer receive_message(int channel_fd, message& message, int& fd) {
  iovec payload{&message, sizeof message};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
  header.msg_iov = &payload;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof control;

  fd = -1;
  const ssize_t count = ::recvmsg(channel_fd, &header, MSG_CMSG_CLOEXEC);
  if (count == 0) return transfer::closed;
  if (count < 0) return failed("recvmsg on a worker channel");

  const cmsghdr* rights = CMSG_FIRSTHDR(&header);
  if (rights != nullptr && rights->cmsg_level == SOL_SOCKET && rights->cmsg_type == SCM_RIGHTS &&
      rights->cmsg_len == CMSG_LEN(sizeof(int))) {
    std::memcpy(&fd, CMSG_DATA(rights), sizeof(int));
  }
  if (count != sizeof message || (header.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::system_error(EPROTO, std::generic_category(), "recvmsg on a worker channel: malformed message");
  }
  return transfer::done;
}

}  // namespace band
