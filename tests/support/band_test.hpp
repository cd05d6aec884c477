// The black-box test harness: one include for a day's tests.
#pragma once

#include "band_log.hpp"
#include "band_process.hpp"
#include "child_process.hpp"
#include "http_client.hpp"
#include "poll.hpp"
#include "proc.hpp"
