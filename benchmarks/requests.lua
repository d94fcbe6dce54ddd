-- wrk script: cycles through the requests of a file written by run.py.
-- Lines: "H<TAB>name<TAB>value" (a header for every request) or
--        "R<TAB>method<TAB>path<TAB>body" (body may be empty).
-- Usage: wrk ... -s requests.lua URL -- requests.tsv
local requests, i = {}, 0

init = function(args)
  local headers, pending = {}, {}
  for line in io.lines(args[1]) do
    local kind, a, b, c = line:match("^(%u)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    if kind == "H" then
      headers[a] = b
    elseif kind == "R" then
      table.insert(pending, {a, b, c})
    end
  end
  for _, r in ipairs(pending) do
    table.insert(requests, wrk.format(r[1], r[2], headers, r[3] ~= "" and r[3] or nil))
  end
  i = math.random(#requests) - 1
end

request = function()
  i = i % #requests + 1
  return requests[i]
end
