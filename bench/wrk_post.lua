-- wrk_post.lua: wrk sends a fixed number of JSON POSTs, then ends.
--
--   WRK_BODY=FILE WRK_COUNT=N WRK_THREADS=T WRK_DONE=DIR \
--       wrk -t T -c C -d 600s -s bench/wrk_post.lua URL
--
-- wrk itself only runs for a duration (-d): its main thread sleeps that
-- long whatever the threads do.  So each of the T threads counts its
-- share of N responses, stops sending and leaves a file in DIR; thread 1,
-- once every thread has left its file, ends the process with _exit(0)
-- (no statistics are printed: compare.sh times the process and counts at
-- the server).  Up to C - 1 requests already sent when a thread reaches
-- its share still arrive, so the server may count slightly more than N.
-- A response other than 2xx ends the process with _exit(1) at once.

local ffi = require("ffi")
ffi.cdef [[
void _exit(int status);
int usleep(unsigned int usec);
]]

-- setup() runs in the main Lua state, once per thread, before that
-- thread's own init(); wrk does not tell either the thread count
local nthreads = tonumber(os.getenv("WRK_THREADS"))
local created = 0

function setup(thread)
   created = created + 1
   thread:set("id", created)
end

local function slurp(path)
   local f = assert(io.open(path, "rb"))
   local s = f:read("*a")
   f:close()
   return s
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = slurp(os.getenv("WRK_BODY"))

local total = tonumber(os.getenv("WRK_COUNT"))
local dir = os.getenv("WRK_DONE")
local share, seen = 0, 0

function init(args)
   -- id is a global that setup() set in this thread's state
   share = math.floor(total / nthreads)
   if id <= total % nthreads then
      share = share + 1
   end
end

local function exists(path)
   local f = io.open(path, "r")
   if f then
      f:close()
   end
   return f ~= nil
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      io.stderr:write("wrk_post.lua: HTTP status " .. status .. "\n")
      ffi.C._exit(1)
   end
   seen = seen + 1
   if seen ~= share then
      return
   end
   io.open(dir .. "/" .. id, "w"):close()
   if id ~= 1 then
      wrk.thread:stop()
      return
   end
   for i = 2, nthreads do
      while not exists(dir .. "/" .. i) do
         ffi.C.usleep(1000)
      end
   end
   ffi.C._exit(0)
end
