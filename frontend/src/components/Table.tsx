// The console's tables: a caption for screen readers, column headers, a row header per row, numbers aligned right,
// and a horizontal scroll of their own (never the page's) when a narrow window cannot hold every column.

import type { HTMLAttributes, ReactNode } from "react";

export interface Column<Row> {
  /** Column header; an empty string is an actions column, named for screen readers only. */
  header: string;
  cell: (row: Row) => ReactNode;
  /** The first column names the row (a <th scope="row">) unless a later one says so. */
  rowHeader?: boolean;
  numeric?: boolean;
  className?: string;
  /** Attributes of the cell, e.g. data-metric for tests and styles, or a title. */
  cellProps?: (row: Row) => HTMLAttributes<HTMLTableCellElement> & Record<`data-${string}`, string | number>;
}

export interface TableProps<Row> {
  caption: string;
  columns: Column<Row>[];
  rows: Row[];
  rowKey: (row: Row) => string | number;
  rowProps?: (row: Row) => HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string | number>;
  className?: string;
}

export function Table<Row>({ caption, columns, rows, rowKey, rowProps, className }: TableProps<Row>) {
  const headerIndex = Math.max(
    0,
    columns.findIndex((column) => column.rowHeader),
  );
  return (
    <div className="table-wrap">
      <table className={`table ${className ?? ""}`.trim()}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column, index) => (
              <th key={index} scope="col" className={column.numeric ? "num" : undefined}>
                {column.header || <span className="visually-hidden">Actions</span>}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...rowProps?.(row)}>
              {columns.map((column, index) => {
                const className = [column.numeric ? "num" : "", column.className ?? ""].join(" ").trim() || undefined;
                const props = { className, ...column.cellProps?.(row) };
                return index === headerIndex ? (
                  <th key={index} scope="row" {...props}>
                    {column.cell(row)}
                  </th>
                ) : (
                  <td key={index} {...props}>
                    {column.cell(row)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
