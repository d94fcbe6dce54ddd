-- wrk script: cycles through the requests of a file written by run.py.
-- Lines: "H<TAB>name<TAB>value" (a header for every request) or
--        "R<TAB>method<TAB>path<TAB>body" (body may be empty).
-- A body holding @START@/@END@ gets a one-minute booking window of its own per request:
-- slot n (counting from the first slot run.py passes) is epoch + 60 n seconds.
-- A header value holding @SLOT@ gets that request's slot number (a fresh Idempotency-Key).
-- Usage: wrk ... -s requests.lua URL -- requests.tsv FIRST_SLOT WINDOW_EPOCH
local requests, templates, i = {}, {}, 0
local headers, slot, epoch, keyed = {}, 0, 0, false

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%S+00:00", t)
end

init = function(args)
  slot = tonumber(args[2] or "0")
  epoch = tonumber(args[3] or "0")
  local pending = {}
  for line in io.lines(args[1]) do
    local kind, a, b, c = line:match("^(%u)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    if kind == "H" then
      headers[a] = b
    elseif kind == "R" then
      table.insert(pending, {a, b, c})
    end
  end
  for _, value in pairs(headers) do
    if value:find("@SLOT@", 1, true) then keyed = true end
  end
  for n, r in ipairs(pending) do
    if keyed or r[3]:find("@START@", 1, true) then
      templates[n] = r
    end
    table.insert(requests, wrk.format(r[1], r[2], headers, r[3] ~= "" and r[3] or nil))
  end
  i = math.random(#requests) - 1
end

request = function()
  i = i % #requests + 1
  local t = templates[i]
  if t then
    local start = epoch + slot * 60
    slot = slot + 1
    local body = t[3]:gsub("@START@", iso(start)):gsub("@END@", iso(start + 60))
    local these = headers
    if keyed then
      these = {}
      -- wrk.format writes Host and Content-Length into the table it is given: skip them.
      for name, value in pairs(headers) do
        if name ~= "Content-Length" and name ~= "Host" then
          these[name] = (tostring(value):gsub("@SLOT@", tostring(slot)))
        end
      end
    end
    return wrk.format(t[1], t[2], these, body ~= "" and body or nil)
  end
  return requests[i]
end
