-- Pandoc filter for the site: what Quarto does that plain pandoc does not.

-- Links between pages name the sources (page.qmd#anchor), as Quarto wants; the site has .html.
function Link(el)
  local target = el.target
  if not target:match("^%a[%w+.-]*:") then
    el.target = target:gsub("%.qmd$", ".html"):gsub("%.qmd#", ".html#")
  end
  return el
end

-- Quarto shows a code block's filename="..." above it.
function CodeBlock(el)
  local name = el.attributes["filename"]
  if name then
    el.attributes["filename"] = nil
    return pandoc.Div({pandoc.Plain({pandoc.Code(name)}), el}, {class = "code-with-filename"})
  end
end

-- Quarto's callouts (::: {.callout-note}) get the title Quarto gives them.
local callout_titles = {
  ["callout-note"] = "Note", ["callout-tip"] = "Tip", ["callout-warning"] = "Warning",
  ["callout-important"] = "Important", ["callout-caution"] = "Caution",
}
function Div(el)
  for _, class in ipairs(el.classes) do
    local title = callout_titles[class]
    if title then
      el.classes:insert("callout")
      el.content:insert(1, pandoc.Div({pandoc.Plain({pandoc.Strong(title)})},
                                      {class = "callout-title"}))
      return el
    end
  end
end
